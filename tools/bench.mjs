// `pnpm bench`: bundles each packages/*/bench/*.bench.ts (or the ones whose path contains an
// argument) with tsup, and runs them one after another with node. A bench file is a script: it
// runs its `benchmark` suites and prints its results itself.
// `@morgana/<name>` imports are bundled from packages/<name>/src, so a benchmark measures the
// source as it is now and needs no build; `--build` also builds every package first.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, existsSync } from 'node:fs';
import { join, basename, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const buildFirst = args.includes('--build');
const filters = args.filter((arg) => arg !== '--build');
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
if (buildFirst) execFileSync('npx', ['-y', 'pnpm@10', 'build'], { cwd: root, stdio: 'inherit' });

/** Resolves `@morgana/<name>` to packages/<name>/src/index.ts and `@morgana/<name>/<sub>` to src/<sub>.ts. */
const workspaceSource = {
  name: 'morgana-workspace-source',
  setup(build) {
    build.onResolve({ filter: /^@morgana\/[a-z0-9-]+(\/[a-z0-9-]+)?$/ }, (args) => {
      const [name, sub] = args.path.slice('@morgana/'.length).split('/');
      const path = join(root, 'packages', name, 'src', `${sub ?? 'index'}.ts`);
      return existsSync(path) ? { path } : undefined;
    });
  },
};
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
    esbuildPlugins: [workspaceSource],
  });
  console.log(`\n## ${pkg}/${basename(file)}`);
  execFileSync(process.execPath, [join(out, `${name}.mjs`)], { cwd: root, stdio: 'inherit' });
}
