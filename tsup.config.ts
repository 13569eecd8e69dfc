// One build for every package: ESM + CJS + .d.ts from src/index.ts into dist/.
// Each package runs `tsup --config ../../tsup.config.ts` from its own folder.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts'],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
