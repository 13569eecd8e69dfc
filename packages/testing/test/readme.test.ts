// The README's examples run as written: the first one (the simulated network) and the one that
// property-tests the DNS codec with the shared arbitraries.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
const blocks = [...readme.matchAll(/```ts\n([\s\S]*?)```/g)].map((match) => match[1]);

describe('README', () => {
  const directory = mkdtempSync(join(tmpdir(), 'morgana-readme-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  async function run(name: string, code: string): Promise<void> {
    const file = join(directory, `${name}.ts`);
    writeFileSync(file, code);
    await import(file);
  }

  it('starts with an install line and a runnable example that checks its own result', async () => {
    expect(readme.indexOf('npm install @morgana/testing')).toBeLessThan(readme.indexOf('```ts'));
    expect(blocks[0]).toContain('new SimulatedNetwork');
    expect(blocks[0]).toContain("from 'node:assert/strict'");
    await run('first', blocks[0]);
  });

  it('runs the DNS property example', async () => {
    const example = blocks.find((block) => block.includes('arbHostileDnsMessage'));
    expect(example).toBeDefined();
    await run('dns', example as string);
  });
});
