// The README's example runs as written and prints what its comment says.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';

describe('README', () => {
  const directory = mkdtempSync(join(tmpdir(), 'morgana-socket-readme-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));

  it('runs the echo server example and prints the echo', async () => {
    const readme = readFileSync(join(import.meta.dirname, '..', 'README.md'), 'utf8');
    const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example).toContain('createSocketStack()');
    const file = join(directory, 'example.ts');
    writeFileSync(file, example as string);
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import(file);
      expect(log.mock.calls).toEqual([['hello, kernel']]);
    } finally {
      log.mockRestore();
    }
  });
});
