// Builds a single-file appliance, code and content together, like a unikernel image:
//   node tools/build-appliance.mjs www <dir> [-o out.mjs] [--measure]
//   node tools/build-appliance.mjs dns <zonefile...> [-o out.mjs] [--measure]
// The output runs with plain `node out.mjs [backend options]` and needs nothing installed
// (the TAP backend excepted: its native addon cannot be bundled). It reports the size, and
// with --measure the time from process start to the first answer.
import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, readFileSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = join(fileURLToPath(import.meta.url), '..', '..');
const args = process.argv.slice(2);
const kind = args.shift();
const measure = args.includes('--measure');
const outIndex = args.indexOf('-o');
const out = resolve(outIndex >= 0 ? args[outIndex + 1] : `morgana-${kind}.mjs`);
const inputs = args.filter((a, i) => a !== '--measure' && a !== '-o' && args[i - 1] !== '-o');
if ((kind !== 'www' && kind !== 'dns') || inputs.length === 0) {
  console.error('usage: node tools/build-appliance.mjs www <dir> | dns <zonefile...> [-o out.mjs] [--measure]');
  process.exit(2);
}

const src = (pkg, file = 'index.ts') => join(root, 'packages', pkg, 'src', file);
let entry;
let contentBytes = 0;
if (kind === 'www') {
  const dir = resolve(inputs[0]);
  const files = {};
  let newest = 0;
  const walk = (folder) => {
    for (const name of readdirSync(folder)) {
      const path = join(folder, name);
      const info = statSync(path);
      if (info.isDirectory()) walk(path);
      else {
        const bytes = readFileSync(path);
        files[relative(dir, path).split('\\').join('/')] = bytes.toString('base64');
        contentBytes += bytes.length;
        newest = Math.max(newest, info.mtimeMs);
      }
    }
  };
  walk(dir);
  entry = `
import { runAppliance } from ${JSON.stringify(src('cli', 'run.ts'))};
import { startWww } from ${JSON.stringify(src('cli', 'www.ts'))};
import { createMemorySource } from '@morgana/http';
const FILES = ${JSON.stringify(files)};
const files = new Map(Object.entries(FILES).map(([path, data]) => [path, Uint8Array.from(atob(data), (c) => c.charCodeAt(0))]));
const usage = 'usage: node ${basename(out)} [backend options]  (a bundled www appliance)\\n';
runAppliance('www', process.argv.slice(2), ({ backend, log }) => startWww({ source: createMemorySource(files, ${Math.floor(newest)}), backend, log }), usage).then((status) => process.exit(status));
`;
} else {
  const zones = inputs.map((file) => {
    const text = readFileSync(file, 'utf8');
    contentBytes += text.length;
    const origin = /^\$ORIGIN\s+(\S+)/im.exec(text)?.[1] ?? basename(file).replace(/\.(zone|db)$/, '') + '.';
    return { text, origin, file: basename(file) };
  });
  entry = `
import { runAppliance } from ${JSON.stringify(src('cli', 'run.ts'))};
import { startDns } from ${JSON.stringify(src('cli', 'dns.ts'))};
import { parseZone, parseName } from '@morgana/dns';
const ZONES = ${JSON.stringify(zones)};
const zones = ZONES.map((z) => parseZone(z.text, { file: z.file, origin: parseName(z.origin.endsWith('.') ? z.origin : z.origin + '.') }));
const usage = 'usage: node ${basename(out)} [backend options] [--allow-transfer CIDR ...] [--notify HOST:PORT ...]  (a bundled dns appliance)\\n';
runAppliance('dns', process.argv.slice(2), ({ values, backend, log }) => startDns({ zoneFiles: [], zones, allowTransfer: values['allow-transfer'], notify: values.notify, backend, log }), usage).then((status) => process.exit(status));
`;
}

const work = mkdtempSync(join(tmpdir(), 'morgana-appliance-'));
writeFileSync(join(work, 'entry.ts'), entry);
const alias = { '@morgana/testing/node': src('testing', 'node.ts') };
for (const name of readdirSync(join(root, 'packages'))) if (name !== 'netif-tap') alias[`@morgana/${name}`] = src(name);
// esbuild is tsup's dependency: resolve it from tsup's real folder (pnpm does not hoist it).
const esbuild = createRequire(realpathSync(join(root, 'node_modules', 'tsup', 'package.json')))('esbuild');
await esbuild.build({
  entryPoints: [join(work, 'entry.ts')],
  outfile: join(work, 'appliance.mjs'),
  bundle: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  minify: true,
  treeShaking: true,
  alias,
  external: ['@morgana/netif-tap'],
  // Bundled CommonJS-free ESM still meets `require` in a few Node paths: give it one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
  metafile: true,
}).then((result) => {
  if (process.env.MORGANA_BUNDLE_ANALYSIS === '1') {
    const byPackage = {};
    for (const [path, info] of Object.entries(result.metafile.outputs[Object.keys(result.metafile.outputs)[0]].inputs)) {
      const pkg = /packages\/([^/]+)\//.exec(path)?.[1] ?? 'entry';
      byPackage[pkg] = (byPackage[pkg] ?? 0) + info.bytesInOutput;
    }
    for (const [pkg, bytes] of Object.entries(byPackage).sort((a, b) => b[1] - a[1])) console.log(`  ${pkg.padEnd(14)} ${(bytes / 1024).toFixed(1)} kB`);
  }
});
const bundled = readFileSync(join(work, 'appliance.mjs'));
writeFileSync(out, bundled);
rmSync(work, { recursive: true, force: true });
const code = bundled.length - Math.ceil(contentBytes * 4 / 3);
console.log(`${basename(out)}: ${(bundled.length / 1024).toFixed(1)} kB (${(gzipSync(bundled).length / 1024).toFixed(1)} kB gzipped), of which content ${(contentBytes / 1024).toFixed(1)} kB (base64 in the file), code about ${(code / 1024).toFixed(1)} kB`);

if (measure) {
  const port = 30_000 + Math.floor(Math.random() * 20_000);
  const started = process.hrtime.bigint();
  const child = spawn(process.execPath, [out, '--net', 'socket', '--listen', `127.0.0.1:${port}`, '--log-level', 'warn'], { stdio: 'ignore' });
  const ask = () =>
    new Promise((done) => {
      if (kind === 'www') {
        const req = request({ host: '127.0.0.1', port, path: '/' }, (res) => {
          res.resume();
          res.on('end', () => done(true));
        });
        req.on('error', () => done(false));
        req.end();
      } else {
        const socket = createSocket('udp4');
        const timer = setTimeout(() => {
          socket.close();
          done(false);
        }, 20);
        socket.on('message', () => {
          clearTimeout(timer);
          socket.close();
          done(true);
        });
        socket.on('error', () => done(false));
        socket.send(Buffer.from('abcd01000001000000000000000006000100', 'hex'), port, '127.0.0.1');
      }
    });
  let answered = false;
  for (let i = 0; i < 2000 && !answered; i++) {
    answered = await ask();
    if (!answered) await new Promise((r) => setTimeout(r, 2));
  }
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  child.kill('SIGTERM');
  console.log(answered ? `start to first answer: ${ms.toFixed(0)} ms` : 'no answer within the time limit');
}
