// The repository's shared build, plus a second entry: `@morgana/testing/node` (pcap files on
// disk) is the package's only Node-specific module, kept out of the runtime-neutral index.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // Node built-ins stay imports of the node entry; the index never reaches them.
  external: [/^node:/],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
