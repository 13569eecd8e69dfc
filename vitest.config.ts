// Runs every package's tests from the root with one command (`pnpm test`).
// Workspace packages resolve to their TypeScript sources, so tests need no build.
import { readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const packagesDir = fileURLToPath(new URL('./packages/', import.meta.url));
const alias = [
  // @morgana/testing's subpath exports (`/node`, `/mutators`, `/dns`, ...): one source module each.
  { find: /^@morgana\/testing\/([a-z0-9-]+)$/, replacement: `${packagesDir}testing/src/$1.ts` },
  ...readdirSync(packagesDir).map((name) => ({
    find: new RegExp(`^@morgana/${name}$`),
    replacement: `${packagesDir}${name}/src/index.ts`,
  })),
];

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tools/**/*.test.ts', 'examples/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
