// The conformance suite on the socket stack, over loopback.
import { parseIpv4 } from '@morgana/core';
import { createSocketStack } from '@morgana/socket';
import { afterAll, beforeAll } from 'vitest';
import { defineStackConformance } from './conformance/suite.js';
import { type SilentListener, startSilentListener } from './helpers/silent-listener.js';

const loopback = parseIpv4('127.0.0.1');
let silent: SilentListener;
beforeAll(async () => {
  silent = await startSilentListener();
});
afterAll(() => silent.stop());

defineStackConformance('socket stack on loopback', async () => {
  const server = createSocketStack();
  const client = createSocketStack();
  return {
    server,
    client,
    serverAddress: loopback,
    silentEndpoint: { address: loopback, port: silent.port },
    cleanup: async () => {
      await Promise.all([server.close(), client.close()]);
    },
  };
});
