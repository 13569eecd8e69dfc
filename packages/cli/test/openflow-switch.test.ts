// The openflow-switch appliance without root: ports are recording Netifs, the controller is
// morgana's own learning switch on loopback; and the command line's usage errors.
import { createSystemClock, type MacAddress } from '@morgana/core';
import { createController, createLearningSwitch } from '@morgana/openflow';
import { createSocketStack } from '@morgana/socket';
import { describe, expect, it } from 'vitest';
import { FakeSwitch } from '../../openflow/test/fake-switch.js';
import { RecordingNetif, ipv4Frame } from '../../openflow/test/netifs.js';
import { startOpenflowSwitch } from '../src/openflow-switch.js';
import { createLogger } from '../src/log.js';
import { main } from '../src/main.js';

const A = 0x020000000001;
const B = 0x020000000002;

async function until(check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('morgana openflow-switch', () => {
  it('dials a controller that is not up yet, connects once it is, and forwards by its learned flows', async () => {
    const stack = createSocketStack();
    const clock = createSystemClock();
    const ports = new Map<string, RecordingNetif>([['tapa', new RecordingNetif(A as MacAddress)], ['tapb', new RecordingNetif(B as MacAddress)]]);
    // Reserve a port, then free it: the switch's first dials are refused.
    const probe = stack.tcp.listen(0);
    const port = probe.port;
    probe.close();
    const appliance = await startOpenflowSwitch({
      controllers: [`127.0.0.1:${port}`], ports: ['tapa', 'tapb'], datapathId: '2a', log: createLogger('error'), clock,
      openPort: async (name) => ports.get(name) as RecordingNetif,
    });
    const learning = createLearningSwitch({ clock });
    let controller: ReturnType<typeof createController> | undefined;
    try {
      await until(() => (appliance.sw.stats()['dial-failed'] ?? 0) >= 1, 3_000);
      controller = createController({ tcp: stack.tcp, clock, port, onSwitch: (connection) => learning.attach(connection) });
      await until(() => controller?.switches.has(0x2an) === true, 5_000);
      const [left, right] = [ports.get('tapa') as RecordingNetif, ports.get('tapb') as RecordingNetif];
      const toB = ipv4Frame(B, A, 0x0a000001, 0x0a000002);
      const toA = ipv4Frame(A, B, 0x0a000002, 0x0a000001);
      left.inject(toB);
      await until(() => right.sent.length > 0, 3_000);
      right.inject(toA);
      await until(() => left.sent.length > 0 && appliance.sw.datapath.tables[0]?.all().some((entry) => entry.match.ethDst === A) === true, 3_000);
      expect(appliance.sw.connections()).toEqual([expect.objectContaining({ version: 4 })]);
      expect(appliance.reach).toEqual([`controller tcp:127.0.0.1:${port} (active, reconnecting)`]);
    } finally {
      controller?.close();
      await appliance.close();
      await stack.close();
    }
  });

  it('listens for management connections with --listen and says where', async () => {
    const appliance = await startOpenflowSwitch({
      controllers: [], listen: '127.0.0.1:0', ports: ['tapa'], log: createLogger('error'), openPort: async () => new RecordingNetif(A as MacAddress),
    });
    const stack = createSocketStack();
    try {
      expect(appliance.reach).toEqual([`tcp:127.0.0.1:${appliance.sw.port} (passive: ovs-ofctl tcp:127.0.0.1:${appliance.sw.port})`]);
      const manager = await FakeSwitch.connect(stack.tcp, appliance.sw.port);
      expect((await manager.expect('hello')).versions).toEqual([1, 4]);
      await manager.send({ version: 1, xid: 1, type: 'hello' });
      await manager.send({ version: 1, xid: 2, type: 'features-request' });
      // The datapath id defaults to the first port's MAC address.
      expect((await manager.expect('features-reply')).datapathId).toBe(BigInt(A));
      manager.close();
    } finally {
      await appliance.close();
      await stack.close();
    }
  });

  it('fails to start when the --listen address is taken', async () => {
    const stack = createSocketStack();
    const taken = stack.tcp.listen(0);
    const port = new RecordingNetif(A as MacAddress);
    try {
      await expect(startOpenflowSwitch({ controllers: [], listen: `127.0.0.1:${taken.port}`, ports: ['tapa'], log: createLogger('error'), openPort: async () => port }))
        .rejects.toThrow(/cannot listen on 127\.0\.0\.1:\d+/);
    } finally {
      taken.close();
      await stack.close();
    }
  });

  it('refuses a command line without ports or without a controller and listener (exit status 2)', async () => {
    const errors: string[] = [];
    const write = process.stderr.write.bind(process.stderr);
    process.stderr.write = ((text: string) => {
      errors.push(text);
      return true;
    }) as typeof process.stderr.write;
    try {
      expect(await main(['openflow-switch', '--listen', '127.0.0.1:6634'])).toBe(2);
      expect(await main(['openflow-switch', '--port', 'tap0'])).toBe(2);
      expect(await main(['openflow-switch', '--port', 'tap0', '--controller', 'nowhere'])).toBe(2);
      expect(await main(['openflow-switch', '--port', 'tap0', '--listen', '127.0.0.1:6634', '--table-miss', 'flood'])).toBe(2);
    } finally {
      process.stderr.write = write;
    }
    expect(errors.join('')).toMatch(/needs at least one --port/);
    expect(errors.join('')).toMatch(/needs --controller HOST:PORT and\/or --listen/);
    expect(errors.join('')).toMatch(/--controller "nowhere": expected HOST:PORT/);
    expect(errors.join('')).toMatch(/--table-miss must be controller or drop/);
  });
});
