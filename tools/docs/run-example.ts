/**
 * Runs a documentation example as a test: the code is written to a gitignored folder inside the
 * repository (so that vitest resolves @morgana/* to the packages' sources through its aliases)
 * and imported. It fails when the example throws (its own node:assert checks included), does
 * not finish within the time limit, or leaves a timer or socket open.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { vi } from 'vitest';

/** Inside the repository (so aliases apply) and in .gitignore. */
export const EXAMPLES_DIR = join(import.meta.dirname, '..', '.readme-examples');

/** An example must finish well within this; the README format asks for about 3 s. */
export const EXAMPLE_TIMEOUT_MS = 10_000;

/** How long sockets get to finish closing after the example returns. */
const SETTLE_MS = 500;

/** The first ```ts block of a Markdown text, whatever comes before it. */
export function firstTsBlock(text: string): string | undefined {
  return /^```ts\s*\n([\s\S]*?)^```\s*$/m.exec(text.replace(/\r\n/g, '\n'))?.[1];
}

/** Every ```ts block whose info string also says `test` (```ts test), in order. */
export function testedTsBlocks(text: string): string[] {
  return [...text.replace(/\r\n/g, '\n').matchAll(/^```ts[ \t]+test[ \t]*\n([\s\S]*?)^```\s*$/gm)].map((m) => m[1]);
}

/** Counts of the handle kinds an example must not leave behind. */
function openHandles(): Map<string, number> {
  const counts = new Map<string, number>();
  for (const kind of process.getActiveResourcesInfo()) {
    if (/Timeout|Immediate|TCP|UDP|Pipe|FSEvent|Signal/.test(kind)) counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return counts;
}

function leftOpen(before: ReadonlyMap<string, number>, after: ReadonlyMap<string, number>): string[] {
  const leaks: string[] = [];
  for (const [kind, count] of after) if (count > (before.get(kind) ?? 0)) leaks.push(`${count - (before.get(kind) ?? 0)} ${kind}`);
  return leaks;
}

/** The folder of one test file's examples (test files may run at the same time). */
export function examplesDir(suite: string): string {
  return join(EXAMPLES_DIR, suite);
}

/**
 * Runs `code` as the module `<suite>/<name>.ts`; resolves with what it printed with console.log,
 * or rejects with an Error that starts with `where` and says what went wrong.
 */
export async function runExample(suite: string, name: string, code: string, where: string): Promise<string[]> {
  mkdirSync(examplesDir(suite), { recursive: true });
  const file = join(examplesDir(suite), `${name}.ts`);
  writeFileSync(file, code);
  const output: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...args: unknown[]) => void output.push(args.map(String).join(' ')));
  const before = openHandles();
  let timer: NodeJS.Timeout | undefined;
  try {
    const hung = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`did not finish in ${EXAMPLE_TIMEOUT_MS} ms`)), EXAMPLE_TIMEOUT_MS);
    });
    await Promise.race([import(pathToFileURL(file).href), hung]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`${where}: the example failed: ${message}\noutput:\n${output.join('\n')}`, { cause: error });
  } finally {
    clearTimeout(timer);
    log.mockRestore();
  }
  // Sockets close asynchronously: give them a few turns of the event loop.
  let leaks = leftOpen(before, openHandles());
  for (let waited = 0; waited < SETTLE_MS && leaks.length > 0; waited += 25) {
    await new Promise((resolve) => setTimeout(resolve, 25));
    leaks = leftOpen(before, openHandles());
  }
  if (leaks.length > 0) throw new Error(`${where}: the example left open: ${leaks.join(', ')}`);
  return output;
}
