// Packs every package as it would be published, checks each tarball with `npm publish
// --dry-run` (no warnings), and installs the tarballs into an empty project with plain npm,
// offline: every third-party dependency is packed from the workspace's own node_modules. Then
// each package is imported from ESM and from CommonJS, every subpath of its `exports`, and its
// typings are checked by TypeScript as a consumer sees them.
//
// A package whose dist/ is older than its src/ is built first (CI builds everything before the
// tests, so there it only packs).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');

/** Packages checked here: every folder under packages/. */
const PACKAGES = readdirSync(join(root, 'packages')).filter((folder) => existsSync(join(root, 'packages', folder, 'package.json')));

/** A short program per package that uses a real export; it prints `ok` when the export works. */
const SMOKE: Record<string, string> = {
  core: `
    const address = m.parseIpv4('192.0.2.1');
    if (m.formatIpv4(address) !== '192.0.2.1' || address !== 0xc0000201) throw new Error('parseIpv4 broken');
    if (m.internetChecksum(new Uint8Array([0x45, 0x00])) !== 0xbaff) throw new Error('checksum broken');
    console.log('ok');`,
  testing: `
    const clock = new m.VirtualClock();
    const net = new m.SimulatedNetwork({ clock, random: m.createSeededRandom(1) });
    const a = net.attach();
    const b = net.attach();
    let got = 0;
    b.listen((frame) => { got = frame.length; });
    a.write(60, (buffer) => { buffer.fill(0xff, 0, 6); return 60; });
    clock.advance(1);
    if (got !== 60) throw new Error('frame not delivered');
    if (m.readPcap(m.writePcap([{ timestampMicros: 1, data: new Uint8Array(3) }])).records.length !== 1) throw new Error('pcap broken');
    console.log('ok');`,
};

const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

interface Manifest {
  name: string;
  version: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
}

/** Workspace folders of `names` and of every @morgana package they depend on. */
function workspaceClosure(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dependency of Object.keys(manifestOf(join(root, 'packages', name)).dependencies ?? {})) {
      if (dependency.startsWith('@morgana/')) visit(dependency.slice('@morgana/'.length));
    }
  };
  names.forEach(visit);
  return [...seen];
}

/** Finds `name` the way Node does from `fromDir`: the nearest node_modules/<name> upwards. */
function findInstalled(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`${name} is not installed anywhere above ${fromDir}`);
  }
}

/** Directories of every third-party package the workspace packages need at run time (dependencies and peers, transitively). */
function thirdPartyClosure(workspaceDirs: readonly string[]): string[] {
  const found = new Map<string, string>();
  const visit = (dir: string, includePeers: boolean): void => {
    const manifest = manifestOf(dir);
    const names = [...Object.keys(manifest.dependencies ?? {}), ...(includePeers ? Object.keys(manifest.peerDependencies ?? {}) : [])];
    for (const name of names) {
      if (name.startsWith('@morgana/') || found.has(name)) continue;
      const location = findInstalled(name, dir);
      found.set(name, location);
      visit(location, false);
    }
  };
  for (const dir of workspaceDirs) visit(dir, true);
  return [...found.values()];
}

/** The newest modification time of any file under `dir` (0 when it does not exist). */
function newest(dir: string): number {
  if (!existsSync(dir)) return 0;
  return readdirSync(dir, { withFileTypes: true }).reduce((latest, entry) => {
    const path = join(dir, entry.name);
    return Math.max(latest, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }, 0);
}

function run(command: string, args: readonly string[], cwd: string): string {
  const path = `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
  return execFileSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, PATH: path }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('pack and install', () => {
  const work = mkdtempSync(join(tmpdir(), 'morgana-pack-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  const folders = workspaceClosure(PACKAGES);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(() => {
    mkdirSync(tarballs);
    mkdirSync(project);
    for (const folder of folders) {
      const dir = join(root, 'packages', folder);
      const build = manifestOf(dir).scripts?.build;
      if (build === undefined) throw new Error(`packages/${folder} has no build script`);
      if (newest(join(dir, 'dist')) < Math.max(newest(join(dir, 'src')), statSync(join(dir, 'package.json')).mtimeMs)) run('sh', ['-c', build], dir);
      // pnpm rewrites workspace:^ ranges to the real versions, as publishing would.
      run('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', tarballs], dir);
    }
    // An installed package folder holds exactly its published files, so a tarball of it is the
    // registry's tarball (npm pack would run the package's own devEngines checks instead).
    for (const dir of thirdPartyClosure(folders.map((folder) => join(root, 'packages', folder)))) {
      const { name, version } = manifestOf(dir);
      const file = join(tarballs, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
      run('tar', ['-czf', file, '--transform', 's,^\\.,package,', '-C', dir, '.'], work);
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-install-check', version: '1.0.0', private: true }));
    const files = readdirSync(tarballs).map((file) => join(tarballs, file));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent', ...files], project);
  }, 600_000);

  it('packs every package with its license, changelog and readme, and no workspace: ranges', () => {
    for (const folder of folders) {
      const { name, version } = manifestOf(join(root, 'packages', folder));
      const file = join(tarballs, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
      const listing = run('tar', ['-tzf', file], work).split('\n');
      expect(listing, name).toEqual(expect.arrayContaining(['package/package.json', 'package/README.md', 'package/CHANGELOG.md', 'package/LICENSE']));
      expect(listing.filter((entry) => /^package\/(src|test|bench)\//.test(entry) && !entry.startsWith('package/src/native/')), name).toEqual([]);
      expect(run('tar', ['-xOzf', file, 'package/package.json'], work), name).not.toContain('workspace:');
    }
  });

  it('passes npm publish --dry-run without a warning, for every package', () => {
    // A token for a registry that refuses connections: npm checks the version there and would
    // otherwise warn that nobody is logged in; --fetch-retries 0 keeps the refusal quick.
    const userconfig = join(work, 'npmrc');
    writeFileSync(userconfig, '//127.0.0.1:9/:_authToken=dry-run\n');
    for (const folder of folders) {
      const { name, version } = manifestOf(join(root, 'packages', folder));
      const file = join(tarballs, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
      const args = ['publish', '--dry-run', '--userconfig', userconfig, '--registry', 'http://127.0.0.1:9/', '--fetch-retries', '0', '--no-update-notifier', file];
      const quoted = args.map((arg) => `'${arg}'`).join(' ');
      // Without the npm_* variables a parent `pnpm test` sets: npm would warn about pnpm's own.
      const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !/^npm_/i.test(key)));
      const result = execFileSync('sh', ['-c', `npm ${quoted} 2>&1`], { cwd: work, encoding: 'utf8', env });
      expect(result, name).toContain(`+ ${name}@${version}`);
      expect(result.split('\n').filter((line) => /^npm (warn|error)/i.test(line)), name).toEqual([]);
      expect(result, name).toContain('with tag latest and public access');
    }
  }, 300_000);

  for (const folder of PACKAGES) {
    const manifest = manifestOf(join(root, 'packages', folder));
    const subpaths = Object.keys(manifest.exports ?? { '.': null }).filter((key) => !key.endsWith('package.json'));

    describe(manifest.name, () => {
      for (const subpath of subpaths) {
        const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;

        it(`${specifier}: ESM import and CJS require give the same exports`, () => {
          const esm = run('node', ['--input-type=module', '-e', `import * as m from '${specifier}'; console.log(JSON.stringify(Object.keys(m).sort()));`], project);
          const cjs = run('node', ['-e', `console.log(JSON.stringify(Object.keys(require('${specifier}')).sort()))`], project);
          const names = JSON.parse(esm) as string[];
          expect(names.length).toBeGreaterThan(0);
          expect(JSON.parse(cjs)).toEqual(names);
        });
      }

      const smoke = SMOKE[folder];
      if (smoke !== undefined) {
        it(`${manifest.name}: a real export works from ESM and CJS`, () => {
          expect(run('node', ['--input-type=module', '-e', `import * as m from '${manifest.name}';${smoke}`], project).trim()).toBe('ok');
          expect(run('node', ['-e', `const m = require('${manifest.name}');${smoke}`], project).trim()).toBe('ok');
        });
      }
    });
  }

  it('installs the morgana command, which prints its usage', () => {
    expect(run(join(project, 'node_modules', '.bin', 'morgana'), ['help'], project)).toMatch(/usage: morgana <appliance>[\s\S]*www <dir>/);
  });

  it('typechecks a consumer of every subpath under node16 resolution, as ESM and as CJS', () => {
    const imports = PACKAGES.flatMap((folder) => {
      const manifest = manifestOf(join(root, 'packages', folder));
      return Object.keys(manifest.exports ?? { '.': null })
        .filter((key) => !key.endsWith('package.json'))
        .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
    });
    const body = imports.map((specifier, index) => `import * as m${index} from '${specifier}';\nexport const n${index}: number = Object.keys(m${index}).length;`).join('\n');
    writeFileSync(join(project, 'consumer.mts'), body);
    writeFileSync(join(project, 'consumer.cts'), body);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['consumer.mts', 'consumer.cts'],
      }),
    );
    run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], project);
  });
});
