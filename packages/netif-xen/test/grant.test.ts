import { LimitExceeded } from '@morgana/core';
import { describe, expect, it } from 'vitest';
import { GNTTAB_NR_RESERVED_ENTRIES, GrantError, SimulatedHypervisor, attachSimulatedHypervisor } from '../src/grant.js';

describe('simulated grant table', () => {
  it('grants a page that the named domain maps and sees the same bytes', () => {
    const hv = new SimulatedHypervisor({ pages: 4, grantEntries: 16, ports: 8 });
    const guest = hv.grantTable(1);
    const page = guest.allocatePage();
    if (page === undefined) throw new Error('no page');
    const ref = guest.grantAccess(0, page, false);
    expect(ref).toBeGreaterThanOrEqual(GNTTAB_NR_RESERVED_ENTRIES);
    const mapped = attachSimulatedHypervisor(hv.layout).grantMapper(0).map(1, ref, true);
    mapped[10] = 42;
    expect(page[10]).toBe(42);
  });

  it('refuses other domains, writes to read-only grants, and revoked grants', () => {
    const hv = new SimulatedHypervisor({ pages: 4, grantEntries: 16, ports: 8 });
    const guest = hv.grantTable(1);
    const page = guest.allocatePage() as Uint8Array;
    const ref = guest.grantAccess(0, page, true);
    expect(() => hv.grantMapper(2).map(1, ref, false)).toThrow(GrantError);
    expect(() => hv.grantMapper(0).map(1, ref, true)).toThrow(/read-only/);
    expect(guest.endAccess(ref)).toBe(true);
    expect(() => hv.grantMapper(0).map(1, ref, false)).toThrow(/not granted/);
    expect(() => hv.grantMapper(0).map(1, 99_999, false)).toThrow(GrantError);
  });

  it('end of access fails while the grant is mapped and succeeds after unmap (GTF_reading/GTF_writing)', () => {
    const hv = new SimulatedHypervisor({ pages: 4, grantEntries: 16, ports: 8 });
    const guest = hv.grantTable(1);
    const ref = guest.grantAccess(0, guest.allocatePage() as Uint8Array, false);
    const mapper = hv.grantMapper(0);
    mapper.map(1, ref, true);
    expect(guest.endAccess(ref)).toBe(false);
    mapper.unmap(1, ref);
    expect(guest.endAccess(ref)).toBe(true);
  });

  it('runs out of pages and grant entries at their configured limits', () => {
    const hv = new SimulatedHypervisor({ pages: 2, grantEntries: GNTTAB_NR_RESERVED_ENTRIES + 2, ports: 8 });
    const guest = hv.grantTable(1);
    const a = guest.allocatePage() as Uint8Array;
    const b = guest.allocatePage() as Uint8Array;
    expect(guest.allocatePage()).toBeUndefined();
    guest.grantAccess(0, a, false);
    guest.grantAccess(0, b, false);
    expect(() => guest.grantAccess(0, a, false)).toThrow(LimitExceeded);
    guest.freePage(b);
    expect(guest.allocatePage()?.byteOffset).toBe(b.byteOffset);
  });
});

describe('simulated event channels', () => {
  it('delivers a notify to the bound peer, coalescing bursts', async () => {
    const hv = new SimulatedHypervisor({ pages: 1, grantEntries: 16, ports: 8 });
    const front = hv.eventChannels(1);
    const back = attachSimulatedHypervisor(hv.layout).eventChannels(0);
    const frontPort = front.allocUnbound(0);
    const backPort = back.bindInterdomain(1, frontPort);
    let woke = 0;
    back.listen(backPort, () => {
      woke += 1;
    });
    front.notify(frontPort);
    front.notify(frontPort);
    front.notify(frontPort);
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBeGreaterThanOrEqual(1);
    expect(woke).toBeLessThanOrEqual(3);
    const before = woke;
    front.notify(frontPort);
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBe(before + 1);
    back.close(backPort);
    front.notify(frontPort);
    await new Promise((r) => setTimeout(r, 10));
    expect(woke).toBe(before + 1);
  });

  it('rejects ports it does not own and runs out of ports at the limit', () => {
    const hv = new SimulatedHypervisor({ pages: 1, grantEntries: 16, ports: 3 });
    const a = hv.eventChannels(1);
    const b = hv.eventChannels(2);
    const port = a.allocUnbound(2);
    expect(() => b.notify(port)).toThrow(GrantError);
    a.allocUnbound(2);
    expect(() => a.allocUnbound(2)).toThrow(LimitExceeded);
  });
});
