export { openTap, DEFAULT_RX_BATCH_FRAMES, TAP_TSO_MAX_SIZE } from './tap.js';
export type { TapNetif, TapOptions, TapOffloadOptions } from './tap.js';
export {
  VNET_HEADER_LENGTH,
  VNET_HEADER_NONE,
  VnetFlags,
  VnetGso,
  VnetHeaderView,
  parseVnetHeader,
  emitVnetHeader,
} from './vnet.js';
export type { VnetHeaderRepr } from './vnet.js';
