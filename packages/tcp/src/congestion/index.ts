/** The congestion controllers and their interface, for `src/index.ts` to re-export. */
export type { AckSample, CongestionControl, CongestionControlFactory, CongestionControlOptions } from './types.js';
export { initialWindow, type WindowOptions } from './window.js';
export { createNewReno, type NewRenoOptions } from './newreno.js';
export { createCubic, type CubicControl, type CubicEpoch, type CubicOptions } from './cubic.js';
