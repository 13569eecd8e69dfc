// Lets `node --import ./tools/ts-loader.mjs file.ts` run the TypeScript sources directly (tests
// start the CLI this way, without a build): workspace packages resolve to their src/, and .ts
// files are compiled on load with esbuild (a dependency of tsup).
import { register } from 'node:module';

register(new URL('./ts-loader-hooks.mjs', import.meta.url));
