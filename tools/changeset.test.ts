// The versioning tool (tools/changeset.mjs) on a throwaway workspace, and the repository's own
// pending changesets parsed as the release would parse them.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs tool without typings.
import * as changeset from './changeset.mjs';

interface Tool {
  main(argv: string[], root: string, out: { write(text: string): void }): number;
  parseChangeset(text: string, file?: string): { releases: Map<string, string>; summary: string };
  formatChangeset(releases: Map<string, string>, summary: string): string;
  bumpVersion(version: string, bump: string): string;
  caretAccepts(from: string, to: string): boolean;
  readWorkspace(root: string): Map<string, unknown>;
  readChangesets(root: string): unknown[];
  planRelease(workspace: Map<string, unknown>, changesets: unknown[]): Map<string, { version: string }>;
  ChangesetError: new (message: string) => Error;
}
const tool = changeset as Tool;

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function workspace(packages: Record<string, { version: string; dependencies?: Record<string, string> }>): string {
  const root = mkdtempSync(join(tmpdir(), 'morgana-changeset-'));
  dirs.push(root);
  for (const [name, manifest] of Object.entries(packages)) {
    const dir = join(root, 'packages', name.split('/')[1]);
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, ...manifest }, null, 2)}\n`);
  }
  return root;
}

const silent = { write: (): void => undefined };
const version = (root: string, folder: string): string => (JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8')) as { version: string }).version;

describe('changeset tool', () => {
  it('bumps the named packages, patches dependents whose caret range breaks, and writes changelogs', () => {
    const root = workspace({
      '@m/core': { version: '0.1.0' },
      '@m/ip': { version: '0.1.0', dependencies: { '@m/core': 'workspace:^' } },
      '@m/tcp': { version: '0.1.3', dependencies: { '@m/ip': 'workspace:^' } },
      '@m/dns': { version: '1.2.0' },
    });
    expect(tool.main(['add', '--summary', 'Interfaces for offloads.', '@m/core:minor'], root, silent)).toBe(0);
    expect(tool.main(['add', '--summary', 'Fix a parser edge.', '@m/dns:patch', '@m/core:patch'], root, silent)).toBe(0);
    expect(tool.main(['version'], root, silent)).toBe(0);
    expect(version(root, 'core')).toBe('0.2.0');
    // 0.x: a new minor leaves ^0.1.0, so ip is released, and then tcp because ip moved only a
    // patch: ^0.1.0 still accepts 0.1.1, so tcp stays.
    expect(version(root, 'ip')).toBe('0.1.1');
    expect(version(root, 'tcp')).toBe('0.1.3');
    expect(version(root, 'dns')).toBe('1.2.1');
    const coreLog = readFileSync(join(root, 'packages/core/CHANGELOG.md'), 'utf8');
    expect(coreLog).toContain('## 0.2.0\n\n### Minor Changes\n\n- Interfaces for offloads.\n\n### Patch Changes\n\n- Fix a parser edge.');
    expect(readFileSync(join(root, 'packages/ip/CHANGELOG.md'), 'utf8')).toContain('- Updated dependencies: @m/core@0.2.0');
    expect(existsSync(join(root, 'packages/tcp/CHANGELOG.md'))).toBe(false);
    expect(tool.readChangesets(root)).toEqual([]);
  });

  it('puts a new section above the older ones', () => {
    const root = workspace({ '@m/core': { version: '1.0.0' } });
    tool.main(['add', '--summary', 'First.', '@m/core:minor'], root, silent);
    tool.main(['version'], root, silent);
    tool.main(['add', '--summary', 'Second.', '@m/core:major'], root, silent);
    tool.main(['version'], root, silent);
    const log = readFileSync(join(root, 'packages/core/CHANGELOG.md'), 'utf8');
    expect(log.indexOf('## 2.0.0')).toBeGreaterThan(0);
    expect(log.indexOf('## 2.0.0')).toBeLessThan(log.indexOf('## 1.1.0'));
    expect(log.startsWith('# @m/core\n')).toBe(true);
  });

  it('rejects changesets naming unknown packages or lacking a summary or front matter', () => {
    const root = workspace({ '@m/core': { version: '1.0.0' } });
    expect(() => tool.main(['add', '--summary', 'x', '@m/nope:minor'], root, silent)).toThrow(tool.ChangesetError);
    expect(() => tool.parseChangeset('---\n"@m/core": minor\n---\n')).toThrow(/no summary/);
    expect(() => tool.parseChangeset('"@m/core": minor\n')).toThrow(/front matter/);
    expect(() => tool.parseChangeset('---\n"@m/core": huge\n---\nx')).toThrow(/line 1/);
    mkdirSync(join(root, '.changeset'));
    writeFileSync(join(root, '.changeset/a.md'), '---\n"@m/other": patch\n---\nx\n');
    expect(() => tool.planRelease(tool.readWorkspace(root), tool.readChangesets(root))).toThrow(/not a workspace package/);
  });

  it('formats and parses changesets as inverses', () => {
    const name = fc.stringMatching(/^@[a-z][a-z0-9-]{0,8}\/[a-z][a-z0-9.-]{0,12}$/);
    const bump = fc.constantFrom('patch', 'minor', 'major');
    const summary = fc.string({ minLength: 1, maxLength: 80 }).filter((text) => text.trim() !== '' && !text.includes('---'));
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(name, bump), { minLength: 1, maxLength: 5, selector: ([n]) => n }), summary, (releases, text) => {
        const parsed = tool.parseChangeset(tool.formatChangeset(new Map(releases), text));
        expect([...parsed.releases]).toEqual(releases);
        expect(parsed.summary).toBe(text.trim());
      }),
    );
  });

  it('follows npm caret semantics, 0.x included', () => {
    expect(tool.caretAccepts('1.2.3', '1.9.0')).toBe(true);
    expect(tool.caretAccepts('1.2.3', '2.0.0')).toBe(false);
    expect(tool.caretAccepts('0.1.0', '0.1.5')).toBe(true);
    expect(tool.caretAccepts('0.1.0', '0.2.0')).toBe(false);
    expect(tool.caretAccepts('0.0.1', '0.0.2')).toBe(false);
    expect(tool.bumpVersion('0.1.9', 'minor')).toBe('0.2.0');
    expect(tool.bumpVersion('1.9.9', 'major')).toBe('2.0.0');
  });

  it("parses the repository's pending changesets against its packages", () => {
    const root = join(import.meta.dirname, '..');
    expect(() => tool.planRelease(tool.readWorkspace(root), tool.readChangesets(root))).not.toThrow();
  });
});
