/**
 * The catalogue against the Linux kernel's TCP: the kernel stack lives in a test namespace
 * behind a TAP device whose fd the tester owns, and a Python helper inside the namespace plays
 * its user (listen, connect, send, read, close, abort; states from /proc/net/tcp). Differences
 * from the model are findings, written to a report file; only a broken harness fails.
 */
import { spawn } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { createSystemClock, parseIpv4 } from '@morgana/core';
import { openTap } from '@morgana/netif-tap';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeInterop } from '../../../tools/interop.js';
import { createTestNetns } from '../../../tools/netns-helper.js';
import type { TestNetns } from '../../../tools/netns-helper.js';
import { addonPath } from '../../netif-tap/src/native.js';
import { LINUX_CONTROL_PROGRAM, catalogue, createLineControl, createRealTimeline, formatMarkdown, runConformance } from '../src/index.js';
import type { ConformanceTarget, LineControl } from '../src/index.js';

const KERNEL = '10.79.0.1';
const TESTER = '10.79.0.2';
/** Debian's python3 (a pyenv python on PATH may be another). */
const PYTHON = '/usr/bin/python3';
/** Longest wait a case may declare against a real kernel; longer ones (TIME-WAIT, keepalive) are skipped. */
const CASE_BUDGET_MS = 8000;
const REPORT = process.env.MORGANA_TCP_CONFORMANCE_REPORT ?? join(tmpdir(), 'tcp-conformance-linux.md');

function missing(): string | undefined {
  if (!existsSync(addonPath())) return `the TAP addon is not built (${addonPath()})`;
  if (!existsSync(PYTHON)) return `${PYTHON} is missing`;
  return undefined;
}

describeInterop(
  `the TCP conformance catalogue against the Linux kernel over TAP (Linux ${release()})`,
  [],
  () => {
    let ns: TestNetns;
    let target: ConformanceTarget;
    let control: LineControl;
    let stopHelper: () => void = () => undefined;

    beforeAll(async () => {
      ns = await createTestNetns({ address: `${KERNEL}/24` });
      const netif = await openTap({ name: ns.device, netns: ns.name });
      const helper = spawn('ip', ['netns', 'exec', ns.name, PYTHON, '-u', '-c', LINUX_CONTROL_PROGRAM], { stdio: ['pipe', 'pipe', 'inherit'] });
      stopHelper = () => helper.kill();
      const lines = createInterface({ input: helper.stdout });
      const clock = createSystemClock();
      // A helper that died fails each later request at once instead of after the control's timeout.
      const send = (line: string): void => {
        if (helper.exitCode !== null || helper.signalCode !== null) throw new Error(`the control helper exited (${helper.exitCode ?? helper.signalCode})`);
        helper.stdin.write(`${line}\n`);
      };
      control = createLineControl(
        { send, onLine: (handler) => lines.on('line', handler) },
        (ms, callback) => clock.setTimer(ms, callback),
      );
      const name = await control.describe();
      target = {
        name,
        netif,
        testerAddress: parseIpv4(TESTER),
        targetAddress: parseIpv4(KERNEL),
        control,
        timeline: createRealTimeline(clock),
        caseBudgetMs: CASE_BUDGET_MS,
        close: () => netif.close(),
      };
    });

    afterAll(async () => {
      stopHelper();
      await target?.close();
      await ns?.destroy();
    });

    it('runs every case, writes the findings, and the harness itself works (handshakes, no errors)', { timeout: 120_000 }, async () => {
      const report = await runConformance(target, { cases: catalogue });
      const markdown = formatMarkdown(report);
      writeFileSync(REPORT, markdown);
      console.log(`${markdown}\n(report written to ${REPORT})`);
      const outcome = (id: string) => report.results.find((result) => result.id === id)?.outcome;
      // Differences are findings; these would mean the harness cannot reach the kernel's TCP at all.
      expect(outcome('handshake.passive-open')).toBe('pass');
      expect(outcome('handshake.active-open')).toBe('pass');
      expect(outcome('data.in-order-delivered-and-acked')).toBe('pass');
      expect(report.results.filter((result) => result.outcome === 'error')).toEqual([]);
      expect(control.pending()).toBe(0);
    });
  },
  missing,
);
