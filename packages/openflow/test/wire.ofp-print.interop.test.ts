// Open vSwitch's own decoder (`ovs-ofctl ofp-print HEX`) reads one of every OpenFlow 1.0 and
// 1.3 message morgana emits: each under its own name, with no decode error and no bytes left
// over. Needs root (the interop gate) and Debian's openvswitch-common.
import { expect, it } from 'vitest';
import { OFPMP_TABLE_FEATURES, type OfpMessage, emitMessage } from '@morgana/openflow';
import { describeInterop } from '../../../tools/interop.js';
import { collect, peerVersion } from '../../../tools/netns-helper.js';
import { sampleMessages } from './wire-samples.js';

/**
 * Samples Open vSwitch refuses by design, as 1.3.x §7.4.4 lets a switch answer: it knows no
 * experimenter id 0x00abcdef (message or error), supports no experimenter meter bands
 * (OFPMMFC_BAD_BAND), and implements none of the optional copy-TTL and PBB actions
 * (OFPBAC_BAD_TYPE).
 */
const REFUSED_BY_PEER: ReadonlySet<string> = new Set(['experimenter', 'error/experimenter', 'meter-mod/experimenter', 'flow-mod/optional-actions']);

/** The name ofp-print starts with, e.g. OFPT_GROUP_MOD or "OFPST_PORT request". */
function ofpPrintName(message: OfpMessage): string {
  if (message.type === 'multipart-request' || message.type === 'multipart-reply') {
    const body = message.body;
    const kind = body.kind === 'port-stats' ? 'port' : body.kind === 'other' && body.statsType === OFPMP_TABLE_FEATURES ? 'table-features' : body.kind;
    return `OFPST_${kind.toUpperCase().replaceAll('-', '_')} ${message.type === 'multipart-request' ? 'request' : 'reply'}`;
  }
  return `OFPT_${message.type.toUpperCase().replaceAll('-', '_')}`;
}

describeInterop('OpenFlow codec read by ovs-ofctl ofp-print', ['ovs-ofctl'], () => {
  for (const version of [1, 4] as const) {
    it(`decodes one of every OpenFlow ${version === 1 ? '1.0' : '1.3'} message with no decode error`, async () => {
      console.log(`ofp-print interop against ${peerVersion('ovs-ofctl')}`);
      for (const [name, message] of Object.entries(sampleMessages(version))) {
        if (REFUSED_BY_PEER.has(name)) continue;
        const hex = Array.from(emitMessage(message), (byte) => byte.toString(16).padStart(2, '0')).join('');
        const result = await collect('ovs-ofctl', ['ofp-print', hex]);
        const output = `${result.stdout}${result.stderr}`;
        expect(result.code, `${name}: ${output}`).toBe(0);
        expect(output, name).not.toMatch(/decode error|only uses|WARN|truncated/);
        const prefix = `${ofpPrintName(message)} ${version === 4 ? '(OF1.3) ' : ''}(xid=0x1)`;
        expect(output.startsWith(prefix), `${name}: expected "${prefix}", got ${output}`).toBe(true);
      }
    });
  }
});
