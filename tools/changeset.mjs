#!/usr/bin/env node
// Versioning and changelogs for the workspace's packages, in the changesets style.
//
// A change that should reach users is described by a file in .changeset/ (any name ending
// in .md): a front matter naming each package and its bump, then the summary for the
// changelog:
//
//   ---
//   "@morgana/dns": minor
//   "@morgana/core": patch
//   ---
//   Zone transfers over TCP (RFC 5936).
//
//   node tools/changeset.mjs add --summary "..." @morgana/dns:minor [@morgana/core:patch ...]
//   node tools/changeset.mjs status      pending bumps, without changing anything
//   node tools/changeset.mjs version     applies them: versions, dependents, CHANGELOG.md files
//
// `version` takes the largest bump each package is given, then gives every workspace package
// whose dependency on a bumped package would no longer accept the new version (a caret range:
// a new major, or a new minor while at 0.x) a patch bump of its own, repeatedly until nothing
// changes, writes a CHANGELOG.md section per bumped package, and deletes the consumed files.
// Ranges written as `workspace:^` need no edit: pnpm rewrites them to `^<version>` on publish.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const BUMPS = ['patch', 'minor', 'major'];
const HEADINGS = { major: 'Major Changes', minor: 'Minor Changes', patch: 'Patch Changes' };

/** Thrown for a malformed changeset or command line; the CLI prints the message and exits 1. */
export class ChangesetError extends Error {
  name = 'ChangesetError';
}

/** Reads every workspace package under `root`/packages: name → { dir, manifest }. */
export function readWorkspace(root) {
  const packages = new Map();
  const base = join(root, 'packages');
  for (const entry of readdirSync(base, { withFileTypes: true })) {
    const file = join(base, entry.name, 'package.json');
    if (!entry.isDirectory() || !existsSync(file)) continue;
    const manifest = JSON.parse(readFileSync(file, 'utf8'));
    if (manifest.private === true) continue;
    packages.set(manifest.name, { dir: join(base, entry.name), manifest });
  }
  return packages;
}

/** Parses one changeset file's text into { releases: Map<name, bump>, summary }. */
export function parseChangeset(text, file = 'changeset') {
  const match = /^---\r?\n([\s\S]*?)\r?\n---\r?\n?([\s\S]*)$/.exec(text);
  if (match === null) throw new ChangesetError(`${file}: missing the --- front matter`);
  const releases = new Map();
  for (const [index, raw] of match[1].split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '') continue;
    const entry = /^["']?(@?[a-z0-9][\w.-]*(?:\/[\w.-]+)?)["']?\s*:\s*(patch|minor|major)$/.exec(line);
    if (entry === null) throw new ChangesetError(`${file}: front matter line ${index + 1} is not "<package>": patch|minor|major`);
    releases.set(entry[1], maxBump(releases.get(entry[1]), entry[2]));
  }
  const summary = match[2].trim();
  if (releases.size === 0) throw new ChangesetError(`${file}: names no package`);
  if (summary === '') throw new ChangesetError(`${file}: has no summary`);
  return { releases, summary };
}

/** Formats a changeset file. */
export function formatChangeset(releases, summary) {
  const lines = [...releases].map(([name, bump]) => `"${name}": ${bump}`);
  return `---\n${lines.join('\n')}\n---\n\n${summary.trim()}\n`;
}

function maxBump(a, b) {
  if (a === undefined) return b;
  return BUMPS.indexOf(a) >= BUMPS.indexOf(b) ? a : b;
}

/** Applies a bump to a semver version (no pre-release tags). */
export function bumpVersion(version, bump) {
  const match = /^(\d+)\.(\d+)\.(\d+)$/.exec(version);
  if (match === null) throw new ChangesetError(`version ${version} is not MAJOR.MINOR.PATCH`);
  const [major, minor, patch] = match.slice(1).map(Number);
  if (bump === 'major') return `${major + 1}.0.0`;
  if (bump === 'minor') return `${major}.${minor + 1}.0`;
  return `${major}.${minor}.${patch + 1}`;
}

/** Whether a caret range on `from` still accepts `to` (npm semantics for 0.x included). */
export function caretAccepts(from, to) {
  const [a, b] = [from, to].map((version) => version.split('.').map(Number));
  if (a[0] !== b[0]) return false;
  if (a[0] === 0 && a[1] !== b[1]) return false;
  if (a[0] === 0 && a[1] === 0) return a[2] === b[2];
  return true;
}

/** Reads .changeset/*.md under `root`: [{ file, releases, summary }], sorted by file name. */
export function readChangesets(root) {
  const dir = join(root, '.changeset');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((file) => file.endsWith('.md') && file !== 'README.md')
    .sort()
    .map((file) => ({ file: join(dir, file), ...parseChangeset(readFileSync(join(dir, file), 'utf8'), file) }));
}

/**
 * The release plan: for each package to release, its bump, new version and changelog entries
 * (summaries, and the dependency updates that forced it).
 */
export function planRelease(workspace, changesets) {
  const plan = new Map();
  const entry = (name) => {
    if (!plan.has(name)) plan.set(name, { bump: 'patch', summaries: [], dependencies: [] });
    return plan.get(name);
  };
  for (const { file, releases, summary } of changesets) {
    for (const [name, bump] of releases) {
      if (!workspace.has(name)) throw new ChangesetError(`${file}: ${name} is not a workspace package`);
      const release = plan.get(name);
      entry(name).bump = release === undefined ? bump : maxBump(release.bump, bump);
      plan.get(name).summaries.push({ bump, summary });
    }
  }
  // Dependents whose range would no longer accept the new version get a patch release.
  for (let changed = true; changed; ) {
    changed = false;
    for (const [name, { manifest }] of workspace) {
      const ranges = { ...manifest.dependencies, ...manifest.peerDependencies };
      for (const dependency of Object.keys(ranges)) {
        const release = plan.get(dependency);
        if (release === undefined || !workspace.has(dependency)) continue;
        const from = workspace.get(dependency).manifest.version;
        const to = bumpVersion(from, release.bump);
        if (caretAccepts(from, to)) continue;
        const own = plan.get(name);
        if (own !== undefined && own.dependencies.some((line) => line.startsWith(`${dependency}@`))) continue;
        entry(name).dependencies.push(`${dependency}@${to}`);
        changed = true;
      }
    }
  }
  for (const [name, release] of plan) release.version = bumpVersion(workspace.get(name).manifest.version, release.bump);
  return plan;
}

/** The CHANGELOG.md section for one release. */
export function changelogSection(version, release) {
  const parts = [`## ${version}`];
  for (const bump of ['major', 'minor', 'patch']) {
    const lines = release.summaries.filter((item) => item.bump === bump).map((item) => `- ${item.summary.replace(/\n/g, '\n  ')}`);
    if (bump === 'patch' && release.dependencies.length > 0) lines.push(`- Updated dependencies: ${release.dependencies.join(', ')}`);
    if (lines.length > 0) parts.push(`### ${HEADINGS[bump]}`, lines.join('\n'));
  }
  return `${parts.join('\n\n')}\n`;
}

/** Applies the plan: package versions, CHANGELOG.md sections; deletes the changeset files. */
export function applyRelease(workspace, changesets, plan) {
  for (const [name, release] of plan) {
    const { dir, manifest } = workspace.get(name);
    const file = join(dir, 'package.json');
    const text = readFileSync(file, 'utf8');
    const next = text.replace(/("version"\s*:\s*")[^"]+(")/, `$1${release.version}$2`);
    if (next === text && manifest.version !== release.version) throw new ChangesetError(`${file}: no "version" field to update`);
    writeFileSync(file, next);
    const changelog = join(dir, 'CHANGELOG.md');
    const previous = existsSync(changelog) ? readFileSync(changelog, 'utf8') : `# ${name}\n`;
    const [title, ...rest] = previous.split(/\n(?=## )/);
    writeFileSync(changelog, [title.trimEnd() + '\n', changelogSection(release.version, release), ...rest.map((part) => part.trimEnd() + '\n')].join('\n'));
  }
  for (const { file } of changesets) rmSync(file);
}

function describePlan(plan, workspace) {
  if (plan.size === 0) return 'no pending changesets';
  return [...plan]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, release]) => `${name}: ${workspace.get(name).manifest.version} -> ${release.version} (${release.bump})`)
    .join('\n');
}

/** The command line; returns the exit status. */
export function main(argv, root = process.cwd(), out = process.stdout) {
  const [command, ...rest] = argv;
  const workspace = readWorkspace(root);
  if (command === 'status' || command === 'version') {
    const changesets = readChangesets(root);
    const plan = planRelease(workspace, changesets);
    out.write(`${describePlan(plan, workspace)}\n`);
    if (command === 'version') applyRelease(workspace, changesets, plan);
    return 0;
  }
  if (command === 'add') {
    const summaryAt = rest.indexOf('--summary');
    if (summaryAt < 0 || rest[summaryAt + 1] === undefined) throw new ChangesetError('add needs --summary "..."');
    const summary = rest[summaryAt + 1];
    const releases = new Map();
    for (const argument of rest.filter((_, index) => index !== summaryAt && index !== summaryAt + 1)) {
      const match = /^(.+):(patch|minor|major)$/.exec(argument);
      if (match === null || !workspace.has(match[1])) throw new ChangesetError(`${argument}: expected <workspace package>:patch|minor|major`);
      releases.set(match[1], maxBump(releases.get(match[1]), match[2]));
    }
    if (releases.size === 0) throw new ChangesetError('add needs at least one <package>:<bump>');
    const dir = join(root, '.changeset');
    mkdirSync(dir, { recursive: true });
    const slug = summary.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 40) || 'change';
    let file = join(dir, `${slug}.md`);
    for (let n = 2; existsSync(file); n += 1) file = join(dir, `${slug}-${n}.md`);
    writeFileSync(file, formatChangeset(releases, summary));
    out.write(`${file}\n`);
    return 0;
  }
  throw new ChangesetError('usage: changeset.mjs add --summary "..." <package>:<bump> ... | status | version');
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  try {
    process.exitCode = main(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof ChangesetError)) throw error;
    process.stderr.write(`changeset: ${error.message}\n`);
    process.exitCode = 1;
  }
}
