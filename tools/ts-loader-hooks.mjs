import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { existsSync, realpathSync } from 'node:fs';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
// esbuild is tsup's dependency: resolve it from tsup's real folder (pnpm does not hoist it).
const require = createRequire(realpathSync(join(root, 'node_modules', 'tsup', 'package.json')));
const { transform } = require('esbuild');

export async function resolve(specifier, context, next) {
  const workspace = /^@morgana\/([a-z0-9-]+)(\/node)?$/.exec(specifier);
  if (workspace !== null) {
    const file = join(root, 'packages', workspace[1], 'src', workspace[2] === undefined ? 'index.ts' : 'node.ts');
    if (existsSync(file)) return { url: pathToFileURL(file).href, shortCircuit: true };
  }
  if (specifier.endsWith('.js') && context.parentURL?.endsWith('.ts')) {
    const candidate = new URL(specifier.replace(/\.js$/, '.ts'), context.parentURL);
    if (existsSync(fileURLToPath(candidate))) return { url: candidate.href, shortCircuit: true };
  }
  return next(specifier, context);
}

export async function load(url, context, next) {
  if (!url.endsWith('.ts')) return next(url, context);
  const source = await readFile(fileURLToPath(url), 'utf8');
  const { code } = await transform(source, { loader: 'ts', format: 'esm', target: 'node20', sourcemap: 'inline', sourcefile: fileURLToPath(url) });
  return { format: 'module', source: code, shortCircuit: true };
}
