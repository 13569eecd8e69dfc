/**
 * `morgana openflow-controller`: an OpenFlow 1.3/1.0 controller running the reactive
 * learning-switch application for every switch that connects (Open vSwitch included).
 */
import { type Clock, createSystemClock } from '@morgana/core';
import { createController, createLearningSwitch } from '@morgana/openflow';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend, UsageError } from './backend.js';
import type { Logger } from './log.js';

/** Applications the controller can run. */
export const OPENFLOW_APPS = ['learning-switch'] as const;

/** Starts the controller appliance. */
export async function startOpenflowController(options: { readonly app?: string; readonly backend: BackendOptions; readonly log: Logger; readonly clock?: Clock }): Promise<Appliance> {
  const app = options.app ?? 'learning-switch';
  if (!(OPENFLOW_APPS as readonly string[]).includes(app)) throw new UsageError(`--app must be one of ${OPENFLOW_APPS.join(', ')}`);
  const clock = options.clock ?? createSystemClock();
  const backend = await openBackend(options.backend, { port: 6653, defaultListen: '127.0.0.1:6653', defaultForwards: ['6653:6653'], protocols: ['tcp'] }, options.log, clock);
  const learning = createLearningSwitch({ clock });
  const controller = createController({
    tcp: backend.stack.tcp,
    clock,
    port: backend.port,
    address: backend.address,
    onSwitch: (connection) => {
      options.log.info(`switch ${connection.datapathId.toString(16).padStart(16, '0')} connected (OpenFlow version ${connection.version})`);
      learning.attach(connection);
    },
  });
  options.log.info(`openflow controller running ${app}`);
  return {
    backend,
    stats: () => ({ ...controller.stats(), switches: controller.switches.size }) as Record<string, number>,
    async close() {
      controller.close();
      await backend.close();
    },
  };
}
