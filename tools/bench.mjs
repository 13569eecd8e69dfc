// `pnpm bench`: builds every package, bundles each packages/*/bench/*.bench.ts (or the ones
// whose path contains an argument) with tsup, and runs them one after another with node.
// A bench file is a script: it runs its `benchmark` suites and prints its results itself.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const filters = process.argv.slice(2);
const files = [];
for (const name of readdirSync(join(root, 'packages'))) {
  const dir = join(root, 'packages', name, 'bench');
  if (!existsSync(dir)) continue;
  for (const file of readdirSync(dir)) {
    const path = join(dir, file);
    if (file.endsWith('.bench.ts') && (filters.length === 0 || filters.some((f) => path.includes(f)))) files.push(path);
  }
}
if (files.length === 0) {
  console.log('no benchmarks matched');
  process.exit(0);
}
execFileSync('npx', ['-y', 'pnpm@10', 'build'], { cwd: root, stdio: 'inherit' });
const out = join(root, '.bench-out');
mkdirSync(out, { recursive: true });
const { build } = await import('tsup');
for (const file of files) {
  const pkg = basename(dirname(dirname(file)));
  const name = `${pkg}-${basename(file, '.ts')}`;
  await build({
    entry: { [name]: file },
    outDir: out,
    format: ['esm'],
    platform: 'node',
    target: 'node20',
    silent: true,
    clean: false,
    dts: false,
    splitting: false,
    outExtension: () => ({ js: '.mjs' }),
    // benchmark is CommonJS that requires lodash at run time: load it from node_modules, unbundled.
    external: ['benchmark'],
  });
  console.log(`\n## ${pkg}/${basename(file)}`);
  execFileSync(process.execPath, [join(out, `${name}.mjs`)], { cwd: root, stdio: 'inherit' });
}
