// Project rules that hold for every package, checked on every test run.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';

const root = join(import.meta.dirname, '..');
const packagesDir = join(root, 'packages');
/** Backends, the CLI and crypto providers may use Node; nothing else may. */
const nodePackages = new Set(['netif-tap', 'netif-socket', 'netif-xen', 'socket', 'cli', 'testing', 'ssh-crypto-node']);

function sourceFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return sourceFiles(path);
    return /\.(ts|mts|cts)$/.test(name) ? [path] : [];
  });
}

const packages = readdirSync(packagesDir).filter((name) => existsSync(join(packagesDir, name, 'package.json')));
const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { repository: { url: string } };
const license = readFileSync(join(root, 'LICENSE'), 'utf8');

describe('package rules', () => {
  for (const name of packages) {
    const manifest = JSON.parse(readFileSync(join(packagesDir, name, 'package.json'), 'utf8')) as {
      name: string;
      dependencies?: Record<string, string>;
      exports?: Record<string, unknown>;
      files?: string[];
      engines?: Record<string, string>;
      version: string;
      license?: string;
      description?: string;
      keywords?: string[];
      homepage?: string;
      bugs?: { url?: string };
      repository?: { type?: string; url?: string; directory?: string };
      publishConfig?: { access?: string; provenance?: boolean };
    };

    it(`${name}: is publishable (exports import/require/types, files, engines, README)`, () => {
      expect(manifest.name).toBe(`@morgana/${name}`);
      const dot = manifest.exports?.['.'] as { import?: unknown; require?: unknown } | undefined;
      expect(dot?.import).toBeDefined();
      expect(dot?.require).toBeDefined();
      expect(manifest.files).toContain('dist');
      expect(manifest.engines?.node).toBeDefined();
      expect(existsSync(join(packagesDir, name, 'README.md'))).toBe(true);
    });

    it(`${name}: carries release metadata (license, changelog, repository, provenance-ready publishConfig)`, () => {
      expect(manifest.license).toBe('MIT');
      expect(readFileSync(join(packagesDir, name, 'LICENSE'), 'utf8')).toBe(license);
      expect(manifest.files).toEqual(expect.arrayContaining(['README.md', 'CHANGELOG.md', 'LICENSE']));
      const changelog = readFileSync(join(packagesDir, name, 'CHANGELOG.md'), 'utf8');
      expect(changelog.startsWith(`# ${manifest.name}\n`)).toBe(true);
      // The current version has its section: tools/changeset.mjs writes it when it bumps.
      expect(changelog).toContain(`\n## ${manifest.version}\n`);
      // npm provenance checks the repository against the building repository.
      expect(manifest.repository).toEqual({ type: 'git', url: rootManifest.repository.url, directory: `packages/${name}` });
      expect(manifest.homepage).toMatch(/^https:\/\//);
      expect(manifest.bugs?.url).toMatch(/^https:\/\//);
      expect(manifest.publishConfig).toEqual({ access: 'public', provenance: true });
      expect(manifest.description?.length ?? 0).toBeGreaterThan(20);
      expect(manifest.keywords).toContain('morgana');
    });

    if (nodePackages.has(name)) continue;

    it(`${name}: has no third-party runtime dependency`, () => {
      for (const dependency of Object.keys(manifest.dependencies ?? {})) {
        expect(dependency.startsWith('@morgana/'), dependency).toBe(true);
      }
    });

    it(`${name}: imports no node: module and uses no Node-only global`, () => {
      for (const file of sourceFiles(join(packagesDir, name, 'src'))) {
        const text = readFileSync(file, 'utf8');
        expect(text, file).not.toMatch(/from\s+['"]node:|require\(\s*['"]node:|\bBuffer\.|\bprocess\./);
        // The system clock is the one place allowed to read host time (ARCHITECTURE.md: Time).
        if (!file.endsWith(join('core', 'src', 'clock.ts'))) {
          expect(text, file).not.toMatch(/\bsetTimeout\(|\bsetInterval\(|\bDate\.now\(/);
        }
      }
    });
  }
});
