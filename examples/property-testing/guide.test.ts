// docs/guide-property-testing.md shows the worked example verbatim: each code block marked
// `<!-- file: path -->` must equal that file, and every file of the example must be shown.
// Other ts blocks import names from morgana packages, which must exist.
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..', '..');
const guide = readFileSync(join(root, 'docs', 'guide-property-testing.md'), 'utf8');

describe('docs/guide-property-testing.md', () => {
  const shown = [...guide.matchAll(/<!-- file: (\S+) -->\n```ts\n([\s\S]*?)```\n/g)].map((match) => ({ path: match[1], code: match[2] }));

  it('shows every file of the worked example', () => {
    const files = readdirSync(import.meta.dirname).filter((name) => name.endsWith('.ts') && name !== 'guide.test.ts');
    expect(shown.map((block) => block.path).sort()).toEqual(files.map((name) => `examples/property-testing/${name}`).sort());
  });

  it('shows each file exactly as it is in the repository', () => {
    for (const block of shown) expect(block.code, block.path).toBe(readFileSync(join(root, block.path), 'utf8'));
  });

  it('imports only names that @morgana/testing exports in its other code blocks', async () => {
    const others = [...guide.matchAll(/(?<!-->\n)```ts\n([\s\S]*?)```/g)].map((match) => match[1]).filter((code) => !shown.some((block) => block.code === code));
    expect(others.length).toBeGreaterThan(0);
    for (const code of others) {
      for (const [, names, from] of code.matchAll(/import \{ ([^}]+) \} from '([^']+)';/g)) {
        const module = (await import(from)) as Record<string, unknown>;
        for (const name of names.split(',').map((part) => part.trim())) expect(module[name], `${name} from ${from}`).toBeDefined();
      }
    }
  });
});
