/**
 * The xenbus front-end state machine (xen/include/public/io/xenbus.h): the handshake a front
 * end drives through `<frontend>/state`, reacting to `<backend>/state` through a watch.
 *
 *   Initialising --backend InitWait--> (publish rings, event channel, features) Initialised
 *   Initialised  --backend Connected--> Connected
 *   any          --close() or backend Closing/Closed--> Closing --backend Closing/Closed--> Closed
 *
 * `frontendStep` is the pure transition function; `XenbusFrontend` runs it over xenstore
 * with the injected clock's timeouts. Runtime-neutral.
 */
import { type Clock, type Timer, TimeoutError, ProtocolError } from '@morgana/core';
import type { XenstoreClient, XenstoreOps } from './xenstore-client.js';
import { XenbusState, parseXenbusState } from './xenbus-state.js';

/** What the front end does next. */
export type FrontendAction =
  | 'wait'
  /** Write the device's details and switch to Initialised. */
  | 'publish'
  /** Switch to Connected. */
  | 'connect'
  /** Switch to Closing and wait for the back end. */
  | 'close'
  /** Release everything and switch to Closed. */
  | 'finish';

/** The transition function: the front end's state, the back end's, and whether close() was called. */
export function frontendStep(front: XenbusState, backend: XenbusState, closeRequested: boolean): FrontendAction {
  const backendGone = backend === XenbusState.Closing || backend === XenbusState.Closed || backend === XenbusState.Unknown;
  switch (front) {
    case XenbusState.Initialising:
      // Nothing is shared yet: closing needs no handshake.
      if (closeRequested) return 'finish';
      // A back end that is already up (a reconnect) accepts details as InitWait does.
      if (backend === XenbusState.InitWait || backend === XenbusState.Initialised || backend === XenbusState.Connected) return 'publish';
      return 'wait';
    case XenbusState.Initialised:
      if (closeRequested || backend === XenbusState.Closing || backend === XenbusState.Closed) return 'close';
      if (backend === XenbusState.Connected) return 'connect';
      return 'wait';
    case XenbusState.Connected:
      if (closeRequested || backendGone) return 'close';
      return 'wait';
    case XenbusState.Closing:
      return backendGone ? 'finish' : 'wait';
    default:
      return 'wait';
  }
}

/** What the device driver does at each step. */
export interface XenbusFrontendHooks {
  /** Allocates and writes the device's details (ring refs, event channel, features) inside the transaction. */
  publish(ops: XenstoreOps): Promise<void>;
  /** The back end is connected: start I/O. */
  connected(): void;
  /** Release rings, grants and the event channel. Called once, whatever the path to Closed. */
  teardown(): void;
}

/** Timeouts of {@link XenbusFrontend}. */
export interface XenbusFrontendConfig {
  /** From start to Connected, ms. Default 10 000; on expiry the device closes and `connect()` rejects. */
  readonly connectTimeoutMs?: number;
  /** Waiting for the back end to acknowledge Closing, ms. Default 5 000; on expiry the front end closes anyway. */
  readonly closeTimeoutMs?: number;
}

export const DEFAULT_XENBUS_CONNECT_TIMEOUT_MS = 10_000;
export const DEFAULT_XENBUS_CLOSE_TIMEOUT_MS = 5_000;

let nextToken = 1;

/** Drives one device's handshake over xenstore. */
export class XenbusFrontend {
  private readonly xs: XenstoreClient;
  private readonly clock: Clock;
  private readonly hooks: XenbusFrontendHooks;
  private readonly frontendPath: string;
  private readonly backendPath: string;
  private readonly connectTimeoutMs: number;
  private readonly closeTimeoutMs: number;
  private stateValue: XenbusState = XenbusState.Initialising;
  private backend: XenbusState = XenbusState.Unknown;
  private closeRequested = false;
  private busy = false;
  private again = false;
  private published = false;
  private tornDown = false;
  private timer: Timer | undefined;
  private unwatch: (() => Promise<void>) | undefined;
  private readonly connectWaiters: { resolve(): void; reject(e: Error): void }[] = [];
  private readonly closeWaiters: (() => void)[] = [];
  /** Every state this front end has written, in order (for tests and diagnostics). */
  readonly history: XenbusState[] = [];

  constructor(xs: XenstoreClient, clock: Clock, paths: { frontend: string; backend: string }, hooks: XenbusFrontendHooks, config: XenbusFrontendConfig = {}) {
    this.xs = xs;
    this.clock = clock;
    this.hooks = hooks;
    this.frontendPath = paths.frontend;
    this.backendPath = paths.backend;
    this.connectTimeoutMs = config.connectTimeoutMs ?? DEFAULT_XENBUS_CONNECT_TIMEOUT_MS;
    this.closeTimeoutMs = config.closeTimeoutMs ?? DEFAULT_XENBUS_CLOSE_TIMEOUT_MS;
  }

  get state(): XenbusState {
    return this.stateValue;
  }

  /** Starts the handshake; resolves at Connected, rejects on timeout or a back end that goes away first. */
  async connect(): Promise<void> {
    await this.setState(XenbusState.Initialising);
    this.timer = this.clock.setTimer(this.connectTimeoutMs, () => {
      this.timer = undefined;
      this.failConnect(new TimeoutError(`xenbus: back end ${this.backendPath} did not connect within ${this.connectTimeoutMs} ms`));
      this.closeRequested = true;
      this.kick();
    });
    const done = new Promise<void>((resolve, reject) => this.connectWaiters.push({ resolve, reject }));
    this.unwatch = await this.xs.watch(`${this.backendPath}/state`, `xenbus-${nextToken++}`, () => this.onBackendChange());
    return done;
  }

  /** Closes the device; resolves at Closed. Idempotent. */
  close(): Promise<void> {
    if (this.stateValue === XenbusState.Closed) return Promise.resolve();
    this.closeRequested = true;
    const done = new Promise<void>((resolve) => this.closeWaiters.push(resolve));
    this.kick();
    return done;
  }

  private onBackendChange(): void {
    void this.xs
      .tryRead(`${this.backendPath}/state`)
      .then((text) => {
        this.backend = text === undefined ? XenbusState.Unknown : parseXenbusState(text);
        this.kick();
      })
      .catch(() => {
        this.backend = XenbusState.Unknown;
        this.kick();
      });
  }

  /** Runs steps until the machine waits; re-entrant calls are folded into one more pass. */
  private kick(): void {
    if (this.busy) {
      this.again = true;
      return;
    }
    this.busy = true;
    void this.run().finally(() => {
      this.busy = false;
      if (this.again) {
        this.again = false;
        this.kick();
      }
    });
  }

  private async run(): Promise<void> {
    for (;;) {
      this.again = false;
      const action = frontendStep(this.stateValue, this.backend, this.closeRequested);
      try {
        if (action === 'wait') return;
        if (action === 'publish') {
          await this.xs.transaction(async (ops) => {
            await this.hooks.publish(ops);
            await ops.write(`${this.frontendPath}/state`, String(XenbusState.Initialised));
          });
          this.published = true;
          this.record(XenbusState.Initialised);
        } else if (action === 'connect') {
          await this.setState(XenbusState.Connected);
          this.cancelTimer();
          this.hooks.connected();
          for (const w of this.connectWaiters.splice(0)) w.resolve();
        } else if (action === 'close') {
          this.failConnect(new ProtocolError(`xenbus: device ${this.frontendPath} closed before it connected`));
          await this.setState(XenbusState.Closing);
          this.cancelTimer();
          this.timer = this.clock.setTimer(this.closeTimeoutMs, () => {
            this.timer = undefined;
            // The back end never acknowledged: treat it as gone.
            this.backend = XenbusState.Closed;
            this.kick();
          });
        } else {
          await this.finish();
          return;
        }
      } catch (error) {
        // xenstore itself failed (connection lost): nothing more can be negotiated.
        this.failConnect(error instanceof Error ? error : new ProtocolError(String(error)));
        await this.finish();
        return;
      }
    }
  }

  private async finish(): Promise<void> {
    this.cancelTimer();
    this.failConnect(new ProtocolError(`xenbus: device ${this.frontendPath} closed before it connected`));
    if (!this.tornDown) {
      this.tornDown = true;
      if (this.published || this.stateValue !== XenbusState.Initialising) this.hooks.teardown();
    }
    const unwatch = this.unwatch;
    this.unwatch = undefined;
    await unwatch?.().catch(() => undefined);
    await this.setState(XenbusState.Closed).catch(() => undefined);
    this.stateValue = XenbusState.Closed;
    for (const w of this.closeWaiters.splice(0)) w();
  }

  private failConnect(error: Error): void {
    for (const w of this.connectWaiters.splice(0)) w.reject(error);
  }

  private cancelTimer(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private async setState(state: XenbusState): Promise<void> {
    this.record(state);
    await this.xs.write(`${this.frontendPath}/state`, String(state));
  }

  private record(state: XenbusState): void {
    this.stateValue = state;
    this.history.push(state);
  }
}
