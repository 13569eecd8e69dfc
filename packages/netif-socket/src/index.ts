export { DEFAULT_MAX_WRITE_QUEUE_BYTES, DEFAULT_MTU } from './base.js';
export type { SocketNetif, SocketNetifOptions } from './base.js';
export { DEFAULT_RECEIVE_BUFFER_BYTES, openDgramNetif } from './dgram.js';
export type { DgramNetif, DgramNetifOptions, UdpEndpoint } from './dgram.js';
export { openStreamNetif } from './stream.js';
export type { StreamEndpoint, StreamNetif, StreamNetifOptions } from './stream.js';
export { QEMU_MAX_FRAME_LENGTH, STREAM_HEADER_LENGTH, StreamFrameDecoder, writeStreamHeader } from './framing.js';
export type { StreamDecoderLimits, StreamDecoderSink, StreamDropReason } from './framing.js';
