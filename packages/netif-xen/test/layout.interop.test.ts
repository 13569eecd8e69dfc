import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  BackRing,
  FrontRing,
  SharedRing,
  SRING_PAD,
  SRING_PVT,
  SRING_REQ_EVENT,
  SRING_REQ_PROD,
  SRING_RING,
  SRING_RSP_EVENT,
  SRING_RSP_PROD,
  XEN_PAGE_SIZE,
  ringSlots,
} from '../src/ring.js';
import * as W from '../src/netif-wire.js';
import { XS_HEADER_LEN, XS_HEADER_LENGTH, XS_HEADER_REQ_ID, XS_HEADER_TX_ID, XS_HEADER_TYPE, XENSTORE_PAYLOAD_MAX, XsType } from '../src/xs-wire.js';
import { XenbusState } from '../src/xenbus-state.js';
import { type CPeer, buildCPeer, cPeerMissing, interopRequired, runCPeer } from './c-peer.js';

const missing = cPeerMissing();
if (missing !== undefined) {
  if (interopRequired) throw new Error(`MORGANA_INTEROP=required but ${missing}`);
  console.log(`skipping Xen header checks: ${missing}`);
}

describe.skipIf(missing !== undefined)('layout against Xen public headers compiled by gcc', () => {
  let peer: CPeer;
  let c: Map<string, number>;
  beforeAll(() => {
    peer = buildCPeer();
    c = new Map(
      runCPeer(peer, ['layout'])
        .trim()
        .split('\n')
        .map((line) => {
          const [name, value] = line.split(' ');
          return [name ?? '', Number(value)];
        }),
    );
  });

  const at = (name: string): number => {
    const value = c.get(name);
    if (value === undefined) throw new Error(`C peer did not print ${name}`);
    return value;
  };

  it('shared ring header matches io/ring.h (indices, pvt, 44-byte pad, ring at 64)', () => {
    expect(SRING_REQ_PROD).toBe(at('offsetof_sring_req_prod'));
    expect(SRING_REQ_EVENT).toBe(at('offsetof_sring_req_event'));
    expect(SRING_RSP_PROD).toBe(at('offsetof_sring_rsp_prod'));
    expect(SRING_RSP_EVENT).toBe(at('offsetof_sring_rsp_event'));
    expect(SRING_PVT).toBe(at('offsetof_sring_pvt'));
    expect(SRING_PAD).toBe(at('offsetof_sring_pad'));
    expect(SRING_PAD - SRING_PVT).toBe(at('sizeof_sring_pvt'));
    expect(SRING_RING - SRING_PAD).toBe(at('sizeof_sring_pad'));
    expect(SRING_RING).toBe(at('sizeof_netif_tx_sring_header'));
    expect(SRING_RING).toBe(at('offsetof_rx_sring_ring'));
  });

  it('ring sizes per page match __CONST_RING_SIZE', () => {
    expect(W.TX_SLOT_SIZE).toBe(at('sizeof_netif_tx_sring_entry'));
    expect(W.RX_SLOT_SIZE).toBe(at('sizeof_netif_rx_sring_entry'));
    expect(ringSlots(XEN_PAGE_SIZE, W.TX_SLOT_SIZE)).toBe(at('netif_tx_ring_size_4096'));
    expect(ringSlots(XEN_PAGE_SIZE, W.RX_SLOT_SIZE)).toBe(at('netif_rx_ring_size_4096'));
  });

  it('netif request/response structs match io/netif.h field by field', () => {
    expect(W.TX_REQUEST_LENGTH).toBe(at('sizeof_netif_tx_request'));
    expect(W.TX_REQUEST_GREF).toBe(at('offsetof_netif_tx_request_gref'));
    expect(W.TX_REQUEST_OFFSET).toBe(at('offsetof_netif_tx_request_offset'));
    expect(W.TX_REQUEST_FLAGS).toBe(at('offsetof_netif_tx_request_flags'));
    expect(W.TX_REQUEST_ID).toBe(at('offsetof_netif_tx_request_id'));
    expect(W.TX_REQUEST_SIZE).toBe(at('offsetof_netif_tx_request_size'));
    expect(W.TX_RESPONSE_LENGTH).toBe(at('sizeof_netif_tx_response'));
    expect(W.TX_RESPONSE_ID).toBe(at('offsetof_netif_tx_response_id'));
    expect(W.TX_RESPONSE_STATUS).toBe(at('offsetof_netif_tx_response_status'));
    expect(W.RX_REQUEST_LENGTH).toBe(at('sizeof_netif_rx_request'));
    expect(W.RX_REQUEST_ID).toBe(at('offsetof_netif_rx_request_id'));
    expect(W.RX_REQUEST_PAD).toBe(at('offsetof_netif_rx_request_pad'));
    expect(W.RX_REQUEST_GREF).toBe(at('offsetof_netif_rx_request_gref'));
    expect(W.RX_RESPONSE_LENGTH).toBe(at('sizeof_netif_rx_response'));
    expect(W.RX_RESPONSE_ID).toBe(at('offsetof_netif_rx_response_id'));
    expect(W.RX_RESPONSE_OFFSET).toBe(at('offsetof_netif_rx_response_offset'));
    expect(W.RX_RESPONSE_FLAGS).toBe(at('offsetof_netif_rx_response_flags'));
    expect(W.RX_RESPONSE_STATUS).toBe(at('offsetof_netif_rx_response_status'));
    expect(W.EXTRA_INFO_LENGTH).toBe(at('sizeof_netif_extra_info'));
    expect(W.EXTRA_INFO_TYPE).toBe(at('offsetof_netif_extra_info_type'));
    expect(W.EXTRA_INFO_FLAGS).toBe(at('offsetof_netif_extra_info_flags'));
    expect(W.EXTRA_INFO_UNION).toBe(at('offsetof_netif_extra_info_u'));
  });

  it('flag bits match, with the RX checksum bits in the opposite order to TX', () => {
    expect(W.NETTXF_CSUM_BLANK).toBe(at('NETTXF_csum_blank'));
    expect(W.NETTXF_DATA_VALIDATED).toBe(at('NETTXF_data_validated'));
    expect(W.NETTXF_MORE_DATA).toBe(at('NETTXF_more_data'));
    expect(W.NETTXF_EXTRA_INFO).toBe(at('NETTXF_extra_info'));
    expect(W.NETRXF_DATA_VALIDATED).toBe(at('NETRXF_data_validated'));
    expect(W.NETRXF_CSUM_BLANK).toBe(at('NETRXF_csum_blank'));
    expect(W.NETRXF_MORE_DATA).toBe(at('NETRXF_more_data'));
    expect(W.NETRXF_EXTRA_INFO).toBe(at('NETRXF_extra_info'));
    expect(W.NETRXF_GSO_PREFIX).toBe(at('NETRXF_gso_prefix'));
    expect(W.NETTXF_CSUM_BLANK).toBe(W.NETRXF_DATA_VALIDATED);
    expect(W.NETTXF_DATA_VALIDATED).toBe(W.NETRXF_CSUM_BLANK);
    expect(W.NETIF_RSP_DROPPED).toBe(at('NETIF_RSP_DROPPED'));
    expect(W.NETIF_RSP_ERROR).toBe(at('NETIF_RSP_ERROR'));
    expect(W.NETIF_RSP_OKAY).toBe(at('NETIF_RSP_OKAY'));
    expect(W.NETIF_RSP_NULL).toBe(at('NETIF_RSP_NULL'));
    expect(W.XEN_NETIF_EXTRA_TYPE_GSO).toBe(at('XEN_NETIF_EXTRA_TYPE_GSO'));
    expect(W.XEN_NETIF_EXTRA_FLAG_MORE).toBe(at('XEN_NETIF_EXTRA_FLAG_MORE'));
    expect(W.XEN_NETIF_MAX_TX_SIZE).toBe(at('XEN_NETIF_MAX_TX_SIZE'));
    expect(W.XEN_NETIF_NR_SLOTS_MIN).toBe(at('XEN_NETIF_NR_SLOTS_MIN'));
  });

  it('xenstore header, message types and xenbus states match io/xs_wire.h and io/xenbus.h', () => {
    expect(XS_HEADER_LENGTH).toBe(at('sizeof_xsd_sockmsg'));
    expect(XS_HEADER_TYPE).toBe(at('offsetof_xsd_sockmsg_type'));
    expect(XS_HEADER_REQ_ID).toBe(at('offsetof_xsd_sockmsg_req_id'));
    expect(XS_HEADER_TX_ID).toBe(at('offsetof_xsd_sockmsg_tx_id'));
    expect(XS_HEADER_LEN).toBe(at('offsetof_xsd_sockmsg_len'));
    expect(XENSTORE_PAYLOAD_MAX).toBe(at('XENSTORE_PAYLOAD_MAX'));
    for (const name of ['DIRECTORY', 'READ', 'GET_PERMS', 'WATCH', 'UNWATCH', 'TRANSACTION_START', 'TRANSACTION_END', 'GET_DOMAIN_PATH', 'WRITE', 'MKDIR', 'RM', 'SET_PERMS', 'WATCH_EVENT', 'ERROR', 'RESET_WATCHES', 'DIRECTORY_PART'] as const) {
      expect(XsType[name], name).toBe(at(`XS_${name}`));
    }
    for (const name of ['Initialising', 'InitWait', 'Initialised', 'Connected', 'Closing', 'Closed'] as const) {
      expect(XenbusState[name], name).toBe(at(`XenbusState${name}`));
    }
  });

  it.each([0, 0xffff_fff0])('TypeScript front ring and Xen RING_* back ring share a tx page (start index %i)', (start) => {
    const page = new Uint8Array(XEN_PAGE_SIZE);
    const sring = new SharedRing(page, W.TX_SLOT_SIZE);
    sring.init();
    // ATTACH at a start index: both sides agree the producer indices begin there.
    sring.reqProd = start;
    sring.rspProd = start;
    const front = new FrontRing(sring, start);
    const count = 40;
    for (let i = 0; i < count; i++) {
      const more = i % 3 !== 2;
      W.writeTxRequest(page, front.nextRequestOffset(), { gref: 7000 + i, offset: i, flags: more ? W.NETTXF_MORE_DATA : 0, id: i, size: i % 3 === 0 ? 100 : 0 });
      front.advanceRequest();
    }
    sring.reqEvent = (start + 1) >>> 0;
    sring.rspEvent = (start + 1) >>> 0;
    expect(front.pushRequestsAndCheckNotify()).toBe(true);
    const file = join(peer.dir, `tx-${start}.page`);
    writeFileSync(file, page);
    const out = runCPeer(peer, ['tx-back', file, String(start)]).trim();
    page.set(readFileSync(file));
    // The front asked for a notification at its first response (rsp_event = start + 1).
    expect(out).toBe(`consumed ${count} notify 1 more 0`);
    expect(sring.reqEvent).toBe((start + count + 1) >>> 0);
    expect(front.unconsumedResponses()).toBe(count);
    for (let i = 0; i < count; i++) {
      const rsp = W.readTxResponse(page, front.nextResponseOffset());
      front.advanceResponse();
      expect(rsp.id).toBe(i);
      const followOn = i % 3 !== 2 && i % 3 !== 0;
      expect(rsp.status).toBe(followOn ? W.NETIF_RSP_NULL : W.NETIF_RSP_OKAY);
    }
    expect(front.finalCheckForResponses()).toBe(false);
    expect(sring.rspEvent).toBe((start + count + 1) >>> 0);
  });

  it('Xen RING_* front ring posts rx requests that the TypeScript back ring answers, across 2^32', () => {
    const start = 0xffff_fffa;
    const page = new Uint8Array(XEN_PAGE_SIZE);
    const sring = new SharedRing(page, W.RX_SLOT_SIZE);
    sring.init();
    sring.reqProd = start;
    sring.rspProd = start;
    const file = join(peer.dir, 'rx.page');
    writeFileSync(file, page);
    expect(runCPeer(peer, ['rx-front', file, String(start), '300']).trim()).toBe('notify 1');
    page.set(readFileSync(file));
    const back = new BackRing(sring, start);
    // Only 256 fit: RING_FULL stopped the C front end.
    expect(back.unconsumedRequests()).toBe(256);
    expect(back.requestProdOverflow()).toBe(false);
    for (let i = 0; i < 256; i++) {
      const req = W.readRxRequest(page, back.nextRequestOffset());
      back.advanceRequest();
      expect(req).toEqual({ id: i, gref: 1000 + i });
      W.writeRxResponse(page, back.nextResponseOffset(), { id: req.id, offset: 2, flags: W.NETRXF_DATA_VALIDATED, status: 60 + i });
      back.advanceResponse();
    }
    // rsp_event is still 1 from init: (start, start + 256] wraps past 0 and contains 1.
    expect(back.pushResponsesAndCheckNotify()).toBe(true);
    writeFileSync(file, page);
    const lines = runCPeer(peer, ['rx-consume', file, String(start)]).trim().split('\n');
    expect(lines).toHaveLength(257);
    expect(lines[0]).toBe('rsp 0 2 1 60');
    expect(lines[255]).toBe('rsp 255 2 1 315');
    expect(lines[256]).toBe(`more 0 rsp_event ${(start + 256 + 1) >>> 0}`);
  });
});
