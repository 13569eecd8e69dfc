/**
 * The DHCP client of a morgana stack on a TAP device against Debian's dnsmasq as the server,
 * in a network namespace of the test's own: lease, ping from the kernel, unicast renewal at
 * T1, release. Runs as root with /dev/net/tun, dnsmasq and the TAP addon; see
 * tools/netns-helper.ts for the gate.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { formatIpv4, formatMac, parseIpv4, prefixContains, parseIpv4Prefix } from '@morgana/core';
import type { DhcpLease } from '@morgana/dhcp';
import { openTap } from '@morgana/netif-tap';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { addonPath } from '../../netif-tap/src/native.js';
import { describeInterop } from '../../../tools/interop.js';
import { createTestNetns, peerVersion } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { type DhcpStack, createDhcpStack } from '../src/index.js';

const SERVER = '10.77.0.1';
const POOL = parseIpv4Prefix('10.77.0.0/24');
/** dnsmasq's shortest lease is 2 minutes; T1 and T2 are set short so the renewal is seen soon. */
const LEASE_SECONDS = 120;
const T1_SECONDS = 8;
const T2_SECONDS = 100;

function addonMissing(): string | undefined {
  const path = addonPath();
  return existsSync(path) ? undefined : `the TAP addon is not built (${path}); run the netif-tap install script`;
}

/** Resolves when `predicate` holds, polling every 100 ms; rejects after `timeoutMs`. */
async function until(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

describeInterop(
  `DHCP client against dnsmasq (${peerVersion('dnsmasq', ['--version'])})`,
  ['dnsmasq', 'ping'],
  () => {
    let ns: TestNetns;
    let dnsmasq: ChildProcess;
    let log = '';
    let directory: string;
    let leaseFile: string;
    let stack: DhcpStack | undefined;

    beforeAll(async () => {
      ns = await createTestNetns({ address: `${SERVER}/24` });
      directory = mkdtempSync(join(tmpdir(), 'morgana-dnsmasq-'));
      leaseFile = join(directory, 'leases');
      dnsmasq = ns.spawn(
        'dnsmasq',
        [
          '--keep-in-foreground',
          '--log-facility=-',
          '--log-dhcp',
          '--conf-file=/dev/null',
          '--no-resolv',
          '--no-hosts',
          '--port=0',
          '--user=root',
          '--pid-file=',
          `--interface=${ns.device}`,
          '--bind-interfaces',
          `--dhcp-leasefile=${leaseFile}`,
          `--dhcp-range=10.77.0.50,10.77.0.60,255.255.255.0,${LEASE_SECONDS}s`,
          `--dhcp-option=option:router,${SERVER}`,
          `--dhcp-option=option:dns-server,${SERVER}`,
          `--dhcp-option=option:T1,${T1_SECONDS}`,
          `--dhcp-option=option:T2,${T2_SECONDS}`,
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      dnsmasq.stdout?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      dnsmasq.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
      await until(() => /started, version/.test(log) || dnsmasq.exitCode !== null, 10_000, 'dnsmasq to start');
      if (dnsmasq.exitCode !== null) throw new Error(`dnsmasq exited: ${log}`);
    });

    afterAll(async () => {
      await stack?.close();
      dnsmasq?.kill();
      await ns?.destroy();
      if (directory !== undefined) rmSync(directory, { recursive: true, force: true });
    });

    it('leases an address, answers the kernel, renews at T1 by unicast, and releases', async () => {
      const tap = await openTap({ name: ns.device, netns: ns.name });
      stack = await createDhcpStack({ netif: tap, dhcp: { hostName: 'morgana-test' } });
      const lease = stack.lease;
      console.log(`leased ${formatIpv4(lease.address)}/${lease.prefixLength} from ${formatIpv4(lease.server)}, ${lease.leaseTime} s`);
      expect(prefixContains(POOL, lease.address)).toBe(true);
      expect(lease.address).toBeGreaterThanOrEqual(parseIpv4('10.77.0.50'));
      expect(lease.address).toBeLessThanOrEqual(parseIpv4('10.77.0.60'));
      expect(lease.prefixLength).toBe(24);
      expect(lease.server).toBe(parseIpv4(SERVER));
      expect(lease.gateway).toBe(parseIpv4(SERVER));
      expect(lease.dnsServers).toEqual([parseIpv4(SERVER)]);
      expect(lease.leaseTime).toBe(LEASE_SECONDS);
      expect([lease.renewalTime, lease.rebindingTime]).toEqual([T1_SECONDS, T2_SECONDS]);
      expect(stack.ipv4.config().address).toEqual({ address: lease.address, length: 24 });

      // dnsmasq recorded the lease under our MAC and host name.
      const leases = readFileSync(leaseFile, 'utf8');
      expect(leases).toContain(formatMac(tap.mac));
      expect(leases).toContain(formatIpv4(lease.address));
      expect(leases).toContain('morgana-test');

      const ping = await ns.exec('ping', ['-c', '2', '-i', '0.2', '-W', '2', formatIpv4(lease.address)]);
      expect(ping.stdout).toContain('2 received');

      // T1: a unicast REQUEST to the server, acknowledged.
      const renewed: DhcpLease[] = [];
      stack.dhcp.on('renewed', (value) => renewed.push(value));
      await until(() => renewed.length > 0, (T1_SECONDS + 10) * 1000, 'the renewal');
      expect(renewed[0].address).toBe(lease.address);
      expect(stack.dhcp.stats()['tx-request']).toBeGreaterThanOrEqual(2);
      expect(log).toMatch(new RegExp(`DHCPREQUEST\\(${ns.device}\\) ${formatIpv4(lease.address).replace(/\./g, '\\.')}`));

      stack.dhcp.release();
      await until(() => /DHCPRELEASE/.test(log), 5000, 'dnsmasq to log the release');
      expect(stack.ipv4.config().address.address).toBe(0);
    }, 60_000);
  },
  addonMissing,
);
