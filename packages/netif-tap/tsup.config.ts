// The root build (ESM + CJS + .d.ts), for Node: this backend imports node: modules and finds its
// native addon relative to import.meta.url, which the CJS build gets through tsup's shim.
import { defineConfig } from 'tsup';
import base from '../../tsup.config.js';

export default defineConfig({ ...base, platform: 'node', shims: true });
