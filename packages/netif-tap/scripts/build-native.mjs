// Install script of @morgana/netif-tap: builds the native addon (src/native/tap.c) into
// build/Release/morgana_tap.node with the machine's toolchain.
//
// 1. node-gyp (the one npm or pnpm names in npm_config_node_gyp, a local one, or npm's bundled
//    copy) with --nodedir at the local Node install, because node-gyp cannot download headers
//    offline;
// 2. failing that, the C compiler directly (a Node-API addon is one C file and Node's headers);
// 3. failing that, a warning and build/native-build.log: installing never fails because of the
//    addon, and openTap() then throws an UnsupportedError that quotes the log.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const packageRoot = join(dirname(fileURLToPath(import.meta.url)), '..');
const buildDir = join(packageRoot, 'build');
const addon = join(buildDir, 'Release', 'morgana_tap.node');
const log = join(buildDir, 'native-build.log');
const attempts = [];

function headersAt(dir) {
  return dir !== undefined && dir !== '' && existsSync(join(dir, 'include', 'node', 'node_api.h')) ? dir : undefined;
}

/** The folder holding include/node: npm's nodedir setting, or the prefix of this node binary. */
function findNodeDir() {
  return headersAt(process.env.npm_config_nodedir) ?? headersAt(dirname(dirname(process.execPath))) ?? headersAt('/usr/local') ?? headersAt('/usr');
}

function findNodeGyp() {
  const candidates = [process.env.npm_config_node_gyp];
  try {
    candidates.push(createRequire(join(packageRoot, 'package.json')).resolve('node-gyp/bin/node-gyp.js'));
  } catch {
    // not installed locally; try npm's bundled copy below
  }
  candidates.push(join(dirname(dirname(process.execPath)), 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  const npmRoot = spawnSync('npm', ['root', '-g'], { encoding: 'utf8', timeout: 30_000 });
  if (npmRoot.status === 0) candidates.push(join(npmRoot.stdout.trim(), 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'));
  return candidates.find((path) => path !== undefined && path !== '' && existsSync(path));
}

function run(label, command, args) {
  const result = spawnSync(command, args, { cwd: packageRoot, encoding: 'utf8', timeout: 300_000 });
  const output = `${result.stdout ?? ''}${result.stderr ?? ''}${result.error ? String(result.error) : ''}`;
  attempts.push(`== ${label}: ${command} ${args.join(' ')}\n${output.trim()}\nexit status ${result.status}`);
  return result.status === 0 && existsSync(addon);
}

function withNodeGyp(nodeDir) {
  const nodeGyp = findNodeGyp();
  if (nodeGyp === undefined) {
    attempts.push('== node-gyp: not found (npm_config_node_gyp, node_modules, npm bundle)');
    return false;
  }
  const args = [nodeGyp, 'rebuild'];
  if (nodeDir !== undefined) args.push(`--nodedir=${nodeDir}`);
  return run('node-gyp', process.execPath, args);
}

function withCompiler(nodeDir) {
  if (nodeDir === undefined) {
    attempts.push("== cc: Node's headers (include/node/node_api.h) not found next to the node binary");
    return false;
  }
  mkdirSync(dirname(addon), { recursive: true });
  const compiler = process.env.CC ?? 'cc';
  return run('cc', compiler, [
    '-O2',
    '-shared',
    '-fPIC',
    '-Wall',
    `-I${join(nodeDir, 'include', 'node')}`,
    '-DNODE_GYP_MODULE_NAME=morgana_tap',
    '-o',
    addon,
    join(packageRoot, 'src', 'native', 'tap.c'),
  ]);
}

/** Loads the result in a fresh node, so a broken build is caught now and not at openTap time. */
function loads() {
  try {
    execFileSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { stdio: 'pipe' });
    return true;
  } catch (error) {
    attempts.push(`== load check failed: ${String(error.stderr ?? error)}`);
    rmSync(addon, { force: true });
    return false;
  }
}

if (process.platform !== 'linux') {
  console.log('@morgana/netif-tap: TAP devices are Linux-only; skipping the native addon');
  process.exit(0);
}

rmSync(log, { force: true });
const nodeDir = findNodeDir();
if ((withNodeGyp(nodeDir) && loads()) || (withCompiler(nodeDir) && loads())) {
  console.log(`@morgana/netif-tap: built ${addon}`);
} else {
  mkdirSync(buildDir, { recursive: true });
  writeFileSync(log, `${attempts.join('\n\n')}\n`);
  console.warn(
    `@morgana/netif-tap: could not build the native addon (details in ${log}); ` +
      'the package installs anyway, and openTap() will explain what is missing.',
  );
}
