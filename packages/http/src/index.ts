export * from './headers.js';
export * from './parser.js';
export * from './serialize.js';
