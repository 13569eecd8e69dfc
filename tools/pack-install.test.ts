// Packs packages as they would be published and installs the tarballs into an empty project
// with plain npm, offline: every third-party dependency is packed from the workspace's own
// node_modules. Then each package is imported from ESM and from CommonJS, every subpath of its
// `exports`, and its typings are checked by TypeScript as a consumer sees them.
//
// Add a package by name to PACKAGES; its @morgana dependencies come along by themselves.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

/** Packages checked here (folder names under packages/). */
const PACKAGES = ['core', 'testing'];

/** A short program per package that uses a real export; it prints `ok` when the export works. */
const SMOKE: Record<string, string> = {
  core: `
    const address = m.parseIpv4('192.0.2.1');
    if (m.formatIpv4(address) !== '192.0.2.1' || address !== 0xc0000201) throw new Error('parseIpv4 broken');
    if (m.internetChecksum(new Uint8Array([0x45, 0x00])) !== 0xbaff) throw new Error('checksum broken');
    console.log('ok');`,
  testing: `
    const clock = new m.VirtualClock();
    const net = new m.SimulatedNetwork({ clock, random: m.createSeededRandom(1) });
    const a = net.attach();
    const b = net.attach();
    let got = 0;
    b.listen((frame) => { got = frame.length; });
    a.write(60, (buffer) => { buffer.fill(0xff, 0, 6); return 60; });
    clock.advance(1);
    if (got !== 60) throw new Error('frame not delivered');
    if (m.readPcap(m.writePcap([{ timestampMicros: 1, data: new Uint8Array(3) }])).records.length !== 1) throw new Error('pcap broken');
    console.log('ok');`,
};

const root = join(import.meta.dirname, '..');
const manifestOf = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as Manifest;

interface Manifest {
  name: string;
  version: string;
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  peerDependencies?: Record<string, string>;
  exports?: Record<string, unknown>;
}

/** Workspace folders of `names` and of every @morgana package they depend on. */
function workspaceClosure(names: readonly string[]): string[] {
  const seen = new Set<string>();
  const visit = (name: string): void => {
    if (seen.has(name)) return;
    seen.add(name);
    for (const dependency of Object.keys(manifestOf(join(root, 'packages', name)).dependencies ?? {})) {
      if (dependency.startsWith('@morgana/')) visit(dependency.slice('@morgana/'.length));
    }
  };
  names.forEach(visit);
  return [...seen];
}

/** Finds `name` the way Node does from `fromDir`: the nearest node_modules/<name> upwards. */
function findInstalled(name: string, fromDir: string): string {
  for (let dir = fromDir; ; dir = dirname(dir)) {
    const candidate = join(dir, 'node_modules', name);
    if (existsSync(join(candidate, 'package.json'))) return realpathSync(candidate);
    if (dirname(dir) === dir) throw new Error(`${name} is not installed anywhere above ${fromDir}`);
  }
}

/** Directories of every third-party package the workspace packages need at run time (dependencies and peers, transitively). */
function thirdPartyClosure(workspaceDirs: readonly string[]): string[] {
  const found = new Map<string, string>();
  const visit = (dir: string, includePeers: boolean): void => {
    const manifest = manifestOf(dir);
    const names = [...Object.keys(manifest.dependencies ?? {}), ...(includePeers ? Object.keys(manifest.peerDependencies ?? {}) : [])];
    for (const name of names) {
      if (name.startsWith('@morgana/') || found.has(name)) continue;
      const location = findInstalled(name, dir);
      found.set(name, location);
      visit(location, false);
    }
  };
  for (const dir of workspaceDirs) visit(dir, true);
  return [...found.values()];
}

function run(command: string, args: readonly string[], cwd: string): string {
  const path = `${join(root, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
  return execFileSync(command, args, { cwd, encoding: 'utf8', env: { ...process.env, PATH: path }, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('pack and install', () => {
  const work = mkdtempSync(join(tmpdir(), 'morgana-pack-'));
  const tarballs = join(work, 'tarballs');
  const project = join(work, 'project');
  const folders = workspaceClosure(PACKAGES);
  afterAll(() => rmSync(work, { recursive: true, force: true }));

  beforeAll(() => {
    mkdirSync(tarballs);
    mkdirSync(project);
    for (const folder of folders) {
      const dir = join(root, 'packages', folder);
      const build = manifestOf(dir).scripts?.build;
      if (build === undefined) throw new Error(`packages/${folder} has no build script`);
      run('sh', ['-c', build], dir);
      // pnpm rewrites workspace:^ ranges to the real versions, as publishing would.
      run('npx', ['-y', 'pnpm@10', 'pack', '--pack-destination', tarballs], dir);
    }
    // An installed package folder holds exactly its published files, so a tarball of it is the
    // registry's tarball (npm pack would run the package's own devEngines checks instead).
    for (const dir of thirdPartyClosure(folders.map((folder) => join(root, 'packages', folder)))) {
      const { name, version } = manifestOf(dir);
      const file = join(tarballs, `${name.replace('@', '').replace('/', '-')}-${version}.tgz`);
      run('tar', ['-czf', file, '--transform', 's,^\\.,package,', '-C', dir, '.'], work);
    }
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'pack-install-check', version: '1.0.0', private: true }));
    const files = readdirSync(tarballs).map((file) => join(tarballs, file));
    run('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', '--silent', ...files], project);
  }, 180_000);

  for (const folder of PACKAGES) {
    const manifest = manifestOf(join(root, 'packages', folder));
    const subpaths = Object.keys(manifest.exports ?? { '.': null }).filter((key) => !key.endsWith('package.json'));

    describe(manifest.name, () => {
      for (const subpath of subpaths) {
        const specifier = subpath === '.' ? manifest.name : `${manifest.name}/${subpath.slice(2)}`;

        it(`${specifier}: ESM import and CJS require give the same exports`, () => {
          const esm = run('node', ['--input-type=module', '-e', `import * as m from '${specifier}'; console.log(JSON.stringify(Object.keys(m).sort()));`], project);
          const cjs = run('node', ['-e', `console.log(JSON.stringify(Object.keys(require('${specifier}')).sort()))`], project);
          const names = JSON.parse(esm) as string[];
          expect(names.length).toBeGreaterThan(0);
          expect(JSON.parse(cjs)).toEqual(names);
        });
      }

      const smoke = SMOKE[folder];
      it.skipIf(smoke === undefined)(`${manifest.name}: a real export works from ESM and CJS`, () => {
        expect(run('node', ['--input-type=module', '-e', `import * as m from '${manifest.name}';${smoke}`], project).trim()).toBe('ok');
        expect(run('node', ['-e', `const m = require('${manifest.name}');${smoke}`], project).trim()).toBe('ok');
      });
    });
  }

  it('typechecks a consumer of every subpath under node16 resolution, as ESM and as CJS', () => {
    const imports = PACKAGES.flatMap((folder) => {
      const manifest = manifestOf(join(root, 'packages', folder));
      return Object.keys(manifest.exports ?? { '.': null })
        .filter((key) => !key.endsWith('package.json'))
        .map((key) => (key === '.' ? manifest.name : `${manifest.name}/${key.slice(2)}`));
    });
    const body = imports.map((specifier, index) => `import * as m${index} from '${specifier}';\nexport const n${index}: number = Object.keys(m${index}).length;`).join('\n');
    writeFileSync(join(project, 'consumer.mts'), body);
    writeFileSync(join(project, 'consumer.cts'), body);
    writeFileSync(
      join(project, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: { module: 'node16', moduleResolution: 'node16', target: 'es2022', strict: true, noEmit: true, skipLibCheck: true, types: [] },
        files: ['consumer.mts', 'consumer.cts'],
      }),
    );
    run(join(root, 'node_modules', '.bin', 'tsc'), ['-p', 'tsconfig.json'], project);
  });
});
