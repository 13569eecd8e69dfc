import { VirtualClock } from '@morgana/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { XenbusFrontend, frontendStep } from '../src/xenbus.js';
import { XenbusState } from '../src/xenbus-state.js';
import { XenstoreClient } from '../src/xenstore-client.js';
import { XenstoreStore } from '../src/xenstore-store.js';
import { connectInProcess } from '../src/xenstore-transport.js';

const FRONT = '/local/domain/1/device/vif/0';
const BACK = '/local/domain/0/backend/vif/1/0';
const CONNECT_TIMEOUT = 1000;
const CLOSE_TIMEOUT = 500;

/** Lets every queued xenstore message and handler run. */
async function settle(): Promise<void> {
  for (let i = 0; i < 8; i++) await new Promise((r) => setImmediate(r));
}

interface System {
  clock: VirtualClock;
  store: XenstoreStore;
  dom0: XenstoreClient;
  front: XenbusFrontend;
  published: number;
  connected: number;
  tornDown: number;
  connectResult: 'pending' | 'resolved' | 'rejected';
  }

async function makeSystem(): Promise<System> {
  const clock = new VirtualClock();
  const store = new XenstoreStore();
  const dom0 = new XenstoreClient(connectInProcess(store, 0));
  await dom0.write(`${BACK}/state`, String(XenbusState.Initialising));
  await dom0.write(`${FRONT}/state`, String(XenbusState.Initialising));
  const xs = new XenstoreClient(connectInProcess(store, 0));
  const system: System = { clock, store, dom0, front: undefined as unknown as XenbusFrontend, published: 0, connected: 0, tornDown: 0, connectResult: 'pending' };
  system.front = new XenbusFrontend(
    xs,
    clock,
    { frontend: FRONT, backend: BACK },
    {
      publish: async (ops) => {
        system.published += 1;
        await ops.write(`${FRONT}/tx-ring-ref`, '8');
      },
      connected: () => {
        system.connected += 1;
      },
      teardown: () => {
        system.tornDown += 1;
      },
    },
    { connectTimeoutMs: CONNECT_TIMEOUT, closeTimeoutMs: CLOSE_TIMEOUT },
  );
  system.front.connect().then(
    () => {
      system.connectResult = 'resolved';
    },
    () => {
      system.connectResult = 'rejected';
    },
  );
  await settle();
  return system;
}

interface Model {
  lastBackend: XenbusState;
  backendWasConnected: boolean;
  closeCalled: boolean;
}

/** Checks what must hold after every command. */
function checkInvariants(m: Model, s: System): void {
  const h = s.front.history;
  // States only move forward along Initialising → Initialised → Connected → Closing → Closed.
  for (let i = 1; i < h.length; i++) expect(h[i] as number).toBeGreaterThan(h[i - 1] as number);
  // Connected only follows a published device and a back end that was Connected; a back end
  // falling back to InitWait later does not disconnect us (xenbus.h: only Closing/Closed do).
  if (h.includes(XenbusState.Connected)) {
    expect(s.published).toBeGreaterThan(0);
    expect(s.connected).toBe(1);
    expect(m.backendWasConnected).toBe(true);
  }
  // Xenstore shows what the state machine believes.
  expect(s.store.peek(`${FRONT}/state`)).toBe(String(s.front.state));
  if (m.closeCalled && s.front.state !== XenbusState.Closed) expect(s.front.state).toBe(XenbusState.Closing);
}

class BackendState implements fc.AsyncCommand<Model, System> {
  constructor(readonly state: XenbusState) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, s: System): Promise<void> {
    m.lastBackend = this.state;
    if (this.state === XenbusState.Connected) m.backendWasConnected = true;
    await s.dom0.write(`${BACK}/state`, String(this.state));
    await settle();
    checkInvariants(m, s);
  }
  toString(): string {
    return `backend ${this.state}`;
  }
}

class Close implements fc.AsyncCommand<Model, System> {
  check(): boolean {
    return true;
  }
  async run(m: Model, s: System): Promise<void> {
    m.closeCalled = true;
    void s.front.close();
    await settle();
    checkInvariants(m, s);
  }
  toString(): string {
    return 'close()';
  }
}

class AdvanceTime implements fc.AsyncCommand<Model, System> {
  constructor(readonly ms: number) {}
  check(): boolean {
    return true;
  }
  async run(m: Model, s: System): Promise<void> {
    s.clock.advance(this.ms);
    await settle();
    checkInvariants(m, s);
  }
  toString(): string {
    return `advance ${this.ms} ms`;
  }
}

const commands = fc.commands(
  [
    fc.constantFrom(XenbusState.InitWait, XenbusState.Initialised, XenbusState.Connected, XenbusState.Closing, XenbusState.Closed).map((state) => new BackendState(state)),
    fc.constant(new Close()),
    fc.integer({ min: 1, max: 1500 }).map((ms) => new AdvanceTime(ms)),
  ],
  { maxCommands: 12 },
);

describe('xenbus front-end state machine', () => {
  it('transition function follows xenbus.h: publish on InitWait, connect on Connected, close on back-end loss', () => {
    expect(frontendStep(XenbusState.Initialising, XenbusState.Initialising, false)).toBe('wait');
    expect(frontendStep(XenbusState.Initialising, XenbusState.InitWait, false)).toBe('publish');
    expect(frontendStep(XenbusState.Initialised, XenbusState.InitWait, false)).toBe('wait');
    expect(frontendStep(XenbusState.Initialised, XenbusState.Connected, false)).toBe('connect');
    expect(frontendStep(XenbusState.Connected, XenbusState.Closing, false)).toBe('close');
    expect(frontendStep(XenbusState.Closing, XenbusState.Connected, false)).toBe('wait');
    expect(frontendStep(XenbusState.Closing, XenbusState.Closed, false)).toBe('finish');
    expect(frontendStep(XenbusState.Initialising, XenbusState.Unknown, true)).toBe('finish');
  });

  it('reaches Connected through Initialised when the back end goes InitWait then Connected', async () => {
    const s = await makeSystem();
    await s.dom0.write(`${BACK}/state`, String(XenbusState.InitWait));
    await settle();
    expect(s.store.peek(`${FRONT}/state`)).toBe(String(XenbusState.Initialised));
    expect(s.store.peek(`${FRONT}/tx-ring-ref`)).toBe('8');
    await s.dom0.write(`${BACK}/state`, String(XenbusState.Connected));
    await settle();
    expect(s.front.state).toBe(XenbusState.Connected);
    expect(s.connectResult).toBe('resolved');
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('gives up after connectTimeoutMs, closing and rejecting connect()', async () => {
    const s = await makeSystem();
    await s.dom0.write(`${BACK}/state`, String(XenbusState.InitWait));
    await settle();
    s.clock.advance(CONNECT_TIMEOUT);
    await settle();
    expect(s.connectResult).toBe('rejected');
    expect(s.front.state).toBe(XenbusState.Closing);
    s.clock.advance(CLOSE_TIMEOUT);
    await settle();
    expect(s.front.state).toBe(XenbusState.Closed);
    expect(s.tornDown).toBe(1);
    expect(s.clock.pendingTimers()).toBe(0);
  });

  it('model (fc.commands): any interleaving of back-end states, close() and time keeps the handshake well-ordered and ends Closed with one teardown', async () => {
    await fc.assert(
      fc.asyncProperty(commands, async (cmds) => {
        const s = await makeSystem();
        const model: Model = { lastBackend: XenbusState.Initialising, backendWasConnected: false, closeCalled: false };
        await fc.asyncModelRun(() => ({ model, real: s }), cmds);
        // Finally everything closes: the back end goes away and the close timeout runs out.
        const closing = s.front.close();
        await s.dom0.write(`${BACK}/state`, String(XenbusState.Closed));
        await settle();
        s.clock.advance(CLOSE_TIMEOUT);
        await settle();
        await closing;
        expect(s.front.state).toBe(XenbusState.Closed);
        expect(s.tornDown).toBe(s.published > 0 ? 1 : 0);
        expect(s.connectResult).not.toBe('pending');
        expect(s.clock.pendingTimers()).toBe(0);
      }),
      { numRuns: 200 },
    );
  });
});
