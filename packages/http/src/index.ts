export * from './headers.js';
export * from './parser.js';
export { checkField, serializeChunk, serializeLastChunk, serializeRequestHead, serializeResponseHead, STATUS_TEXT } from './serialize.js';
export * from './date.js';
export * from './server.js';
export * from './static.js';
export * from './client.js';
