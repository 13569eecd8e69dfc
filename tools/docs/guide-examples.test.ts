// The guides' examples marked ```ts test run as written, like the README examples: they throw on
// a failed node:assert check, must finish in time, and must close what they open.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EXAMPLE_TIMEOUT_MS, examplesDir, runExample, testedTsBlocks } from './run-example.js';

const docs = join(import.meta.dirname, '..', '..', 'docs');
const guides = readdirSync(docs).filter((file) => file.endsWith('.md')).sort();

describe('guide examples', () => {
  afterAll(() => rmSync(examplesDir('guides'), { recursive: true, force: true }));

  it('finds the ```ts test blocks, and only those', () => {
    expect(testedTsBlocks('```ts\na\n```\n```ts test\nb\n```\n```sh test\nc\n```\n')).toEqual(['b\n']);
  });

  it('has runnable examples in the guides that show code', () => {
    for (const guide of ['index.md', 'compose-a-stack.md', 'write-an-appliance.md']) {
      expect(testedTsBlocks(readFileSync(join(docs, guide), 'utf8')).length, guide).toBeGreaterThan(0);
    }
  });

  for (const guide of guides) {
    testedTsBlocks(readFileSync(join(docs, guide), 'utf8')).forEach((code, index) => {
      it(`docs/${guide}: example ${index + 1} runs and checks itself`, async () => {
        await runExample('guides', `${guide.replace(/\.md$/, '')}-${index + 1}`, code, `docs/${guide} example ${index + 1}`);
      }, EXAMPLE_TIMEOUT_MS + 5_000);
    });
  }
});
