// Every package README follows one format (title, what it is, an install line, a runnable
// example, then the API and what it covers) and its first ```ts block runs as written: the block is
// copied into a gitignored folder inside the repository, so that vitest resolves @morgana/* to
// the packages' sources, and imported. An example that throws (its own node:assert checks
// included), hangs for longer than the limit, or leaves a timer or socket open fails here.
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_TIMEOUT_MS, examplesDir, firstTsBlock, runExample } from './docs/run-example.js';

const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');

export interface ReadmeHead {
  title: string;
  description: string;
  install: string;
  example: string;
}

/**
 * Splits a README's head into the four parts the format requires, or says which is missing.
 * The order is fixed: `# @morgana/<name>`, one or more lines of prose, a ```sh block with the
 * install line, then (possibly after more prose) the first ```ts block.
 */
export function parseReadmeHead(text: string): ReadmeHead | string {
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  const title = lines[0] ?? '';
  if (!title.startsWith('# ')) return 'the first line is not a "# " title';
  let i = 1;
  while (i < lines.length && lines[i].trim() === '') i++;
  const prose: string[] = [];
  while (i < lines.length && !lines[i].startsWith('```') && !lines[i].startsWith('#')) prose.push(lines[i++]);
  if (prose.join(' ').trim() === '') return 'no sentence says what the package implements before the install block';
  if (!/^```(sh|bash|shell)\s*$/.test(lines[i] ?? '')) return 'the block after the description is not a ```sh install block';
  const installLines: string[] = [];
  for (i++; i < lines.length && !lines[i].startsWith('```'); i++) installLines.push(lines[i]);
  const example = text.split('\n').slice(i + 1).join('\n');
  const match = /^```ts\s*\n([\s\S]*?)^```\s*$/m.exec(example);
  if (match === null) return 'no ```ts example block follows the install block';
  const between = example.slice(0, match.index);
  if (/^```/m.test(between)) return 'another code block comes between the install block and the ```ts example';
  return { title: title.slice(2).trim(), description: prose.join('\n').trim(), install: installLines.join('\n'), example: match[1] };
}

/** True when `install` holds an `npm install` command that names `@morgana/<name>`. */
export function installsPackage(install: string, name: string): boolean {
  const escaped = name.replace(/[-/\\^$*+?.()|[\]{}]/g, '\\$&');
  return install.split('\n').some((line) => new RegExp(`^\\s*npm (install|i)\\b.*\\s@morgana/${escaped}(\\s|$|@)`).test(line));
}

const readmes = readdirSync(packagesDir)
  .filter((name) => existsSync(join(packagesDir, name, 'package.json')) && existsSync(join(packagesDir, name, 'README.md')))
  .sort();

describe('README format', () => {
  it('parses a README head and rejects one without an install block', () => {
    const good = '# @morgana/x\n\nDoes x.\n\n```sh\nnpm install @morgana/x\n```\n\n```ts\nconsole.log(1);\n```\n';
    expect(parseReadmeHead(good)).toEqual({ title: '@morgana/x', description: 'Does x.', install: 'npm install @morgana/x', example: 'console.log(1);\n' });
    expect(parseReadmeHead('# @morgana/x\n\nDoes x.\n\n```ts\nconsole.log(1);\n```\n')).toMatch(/install/);
    expect(parseReadmeHead('# @morgana/x\n\n```sh\nnpm install @morgana/x\n```\n')).toMatch(/sentence/);
    expect(installsPackage('npm install -g @morgana/cli', 'cli')).toBe(true);
    expect(installsPackage('npm install @morgana/ssh @morgana/ssh-crypto-node', 'ssh')).toBe(true);
    expect(installsPackage('npm install @morgana/ssh-crypto-node', 'ssh')).toBe(false);
    expect(parseReadmeHead('# @morgana/x\n\nDoes x.\n\n```sh\nnpm install @morgana/x\n```\n\n```js\nx\n```\n\n```ts\ny\n```\n')).toMatch(/between/);
  });

  for (const name of readmes) {
    it(`packages/${name}/README.md follows the format: title, description, install line, ts example, then API and coverage`, () => {
      const head = parseReadmeHead(readFileSync(join(packagesDir, name, 'README.md'), 'utf8'));
      if (typeof head === 'string') expect.fail(`packages/${name}/README.md: ${head}`);
      expect(head.title, `packages/${name}/README.md title`).toBe(`@morgana/${name}`);
      expect(installsPackage(head.install, name), `packages/${name}/README.md install line: ${head.install}`).toBe(true);
      expect(head.example, `packages/${name}/README.md example imports @morgana/${name}`).toMatch(new RegExp(`from '@morgana/${name}'`));
      // Self-contained: morgana packages and Node's builtins only, and it ends by itself.
      const imports = [...head.example.matchAll(/(?:^|\n)\s*import\s[^;]*?from\s+'([^']+)'|import\('([^']+)'\)/g)].map((m) => m[1] ?? m[2]);
      for (const specifier of imports) expect(specifier, `packages/${name}/README.md example imports ${specifier}`).toMatch(/^(@morgana\/[a-z0-9-]+(\/node)?|node:[a-z/_]+)$/);
      expect(head.example, `packages/${name}/README.md example calls process.exit`).not.toMatch(/process\.exit/);
      // Then the API, then what the package covers (RFCs, formats, interfaces: implemented and not).
      const text = readFileSync(join(packagesDir, name, 'README.md'), 'utf8');
      const headings = [...text.matchAll(/^## (.+)$/gm)].map((m) => m[1]);
      const api = headings.findIndex((h) => /^API\b/.test(h));
      expect(api, `packages/${name}/README.md has an "## API" section`).toBeGreaterThanOrEqual(0);
      expect(headings.slice(api + 1).some((h) => /coverage|standards|scope/i.test(h)), `packages/${name}/README.md has a coverage section after the API`).toBe(true);
    });
  }
});

describe('README examples run', () => {
  afterAll(() => rmSync(examplesDir('readmes'), { recursive: true, force: true }));

  for (const name of readmes) {
    it(`packages/${name}/README.md: the first ts block runs, checks itself and closes what it opens`, async () => {
      const example = firstTsBlock(readFileSync(join(packagesDir, name, 'README.md'), 'utf8'));
      if (example === undefined) expect.fail(`packages/${name}/README.md has no \`\`\`ts block`);
      await runExample('readmes', name, example, `packages/${name}/README.md`);
    }, EXAMPLE_TIMEOUT_MS + 5_000);
  }
});
