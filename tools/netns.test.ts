// tools/netns.sh, the test host every interop suite stands on: it sets up what it is asked
// for, passes the command's status through, and leaves nothing behind, also when set-up fails.
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { describeInterop } from './interop.js';
import { collect, uniqueName } from './netns-helper.js';

const script = join(import.meta.dirname, 'netns.sh');

async function namespaces(): Promise<string[]> {
  const list = await collect('ip', ['netns', 'list']);
  return list.stdout
    .split('\n')
    .map((line) => line.split(' ')[0])
    .filter((name) => name !== '');
}

describeInterop('tools/netns.sh', ['ping'], () => {
  it('runs a command inside a namespace with a TAP device, address and route, passes its status on, and tears down', async () => {
    const name = uniqueName('mgt');
    const result = await collect(script, [
      'run',
      '--name',
      name,
      '--tap',
      'tap0',
      '--address',
      '10.66.0.1/24',
      '--route',
      '10.67.0.0/16 via 10.66.0.2',
      '--mtu',
      '9000',
      '--inside',
      '--',
      'sh',
      '-c',
      'ip -o addr show tap0; ip route show 10.67.0.0/16; ip -o link show tap0; echo "$MORGANA_NETNS $MORGANA_NETNS_DEVICE $MORGANA_NETNS_ADDRESS"; exit 3',
    ]);
    expect(result.code).toBe(3);
    expect(result.stdout).toContain('inet 10.66.0.1/24');
    expect(result.stdout).toContain('10.67.0.0/16 via 10.66.0.2 dev tap0');
    expect(result.stdout).toContain('mtu 9000');
    expect(result.stdout).toContain(`${name} tap0 10.66.0.1`);
    expect(await namespaces()).not.toContain(name);
  });

  it('joins a veth pair to a peer namespace that answers ping, and `down` removes both namespaces', async () => {
    const name = uniqueName('mgv');
    const up = await collect(script, ['up', '--name', name, '--veth', 'veth0', '--address', '10.68.0.1/24', '--peer-address', '10.68.0.2/24']);
    expect(up.code).toBe(0);
    expect(up.stdout).toContain(`MORGANA_NETNS=${name}`);
    try {
      const ping = await collect('ip', ['netns', 'exec', name, 'ping', '-c', '1', '-W', '2', '10.68.0.2']);
      expect(ping.stdout).toContain('1 received');
    } finally {
      await collect(script, ['down', name]);
    }
    const left = await namespaces();
    expect(left).not.toContain(name);
    expect(left).not.toContain(`${name}-peer`);
  });

  it('adopts a device from this namespace', async () => {
    const name = uniqueName('mga');
    const device = uniqueName('mgd');
    expect((await collect('ip', ['tuntap', 'add', 'dev', device, 'mode', 'tap'])).code).toBe(0);
    try {
      const result = await collect(script, ['run', '--name', name, '--adopt', device, '--address', '10.69.0.1/24', '--inside', '--', 'ip', '-o', 'addr', 'show', device]);
      expect(result.stdout).toContain('inet 10.69.0.1/24');
    } finally {
      // A persistent TAP device outlives the namespace: deleting it moves the device back here.
      for (let attempt = 0; attempt < 20 && (await collect('ip', ['link', 'show', device])).code !== 0; attempt += 1) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await collect('ip', ['tuntap', 'del', 'dev', device, 'mode', 'tap']);
    }
    expect((await collect('ip', ['link', 'show', device])).code).not.toBe(0);
  });

  it('tears down when set-up fails half way (an address the kernel refuses)', async () => {
    const name = uniqueName('mgf');
    const result = await collect(script, ['up', '--name', name, '--tap', 'tap0', '--address', '10.70.0.1/99']);
    expect(result.code).not.toBe(0);
    expect(await namespaces()).not.toContain(name);
  });

  it('refuses contradictory options', async () => {
    const result = await collect(script, ['up', '--tap', 'a', '--veth', 'b']);
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('use one of --tap, --veth, --adopt');
  });
});
