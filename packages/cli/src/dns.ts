/** `morgana dns <zonefile...>`: the authoritative DNS appliance. */
import { readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { type Clock, createSystemClock, createSystemRandom, formatIpv4, type Ipv4Address, parseIpv4, parseIpv4Prefix, prefixContains } from '@morgana/core';
import { AuthoritativeServer, checkZone, formatName, parseName, parseZone, sendNotify, serveDns, type Zone } from '@morgana/dns';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend, parseHostPort, UsageError } from './backend.js';
import type { Logger } from './log.js';

/**
 * Reads zone files. `$INCLUDE` paths are relative to the including file and must stay inside
 * the zone file's folder (the parser refuses `..` and absolute paths; symbolic links leading
 * out are refused here). The origin is `$ORIGIN` if the file starts with one, else the file name.
 */
export async function loadZones(files: readonly string[]): Promise<Zone[]> {
  const zones: Zone[] = [];
  for (const file of files) {
    const folder = realpathSync(dirname(resolve(file)));
    const text = await readFile(file, 'utf8');
    const originLine = /^\$ORIGIN\s+(\S+)/im.exec(text);
    const origin = originLine !== null ? originLine[1] : basename(file).replace(/\.(zone|db)$/, '');
    const zone = parseZone(text, {
      file,
      origin: parseName(origin.endsWith('.') ? origin : origin + '.'),
      include: (path) => {
        const real = realpathSync(resolve(path));
        if (real !== folder && !real.startsWith(folder + sep)) throw new Error(`$INCLUDE ${path} leaves the zone's folder`);
        return readFileSync(real, 'utf8');
      },
    });
    const soa = zone.records.find((r) => r.type === 6);
    const apexZone = soa === undefined ? zone : { origin: soa.name, records: zone.records };
    const problems = checkZone(apexZone);
    if (problems.length > 0) throw new UsageError(`${file}: ${problems.map((p) => p.message).join('; ')}`);
    zones.push(apexZone);
  }
  return zones;
}

/** `morgana dns <zonefile...>`: the authoritative DNS server (UDP and TCP). */
export async function startDns(options: {
  readonly zoneFiles: readonly string[];
  /** Zones already parsed (a bundled appliance); then `zoneFiles` is not read. */
  readonly zones?: readonly Zone[];
  readonly allowTransfer?: readonly string[];
  /** Secondaries (HOST:PORT) told of each zone with NOTIFY at start and after every reload (RFC 1996). */
  readonly notify?: readonly string[];
  readonly backend: BackendOptions;
  readonly log: Logger;
  readonly clock?: Clock;
}): Promise<Appliance & { reload(): Promise<void> }> {
  const clock = options.clock ?? createSystemClock();
  const allowed = (options.allowTransfer ?? []).map((cidr) => {
    try {
      return parseIpv4Prefix(cidr.includes('/') ? cidr : `${cidr}/32`);
    } catch {
      throw new UsageError(`--allow-transfer ${JSON.stringify(cidr)}: expected ADDR/PREFIX`);
    }
  });
  const notifyTargets = (options.notify ?? []).map((text) => parseHostPort(text, '--notify'));
  const random = createSystemRandom();
  const zones = options.zones ?? (await loadZones(options.zoneFiles));
  const server = new AuthoritativeServer({ zones, clock, allowTransfer: (address: Ipv4Address) => allowed.some((p) => prefixContains(p, address)) });
  for (const zone of zones) options.log.info(`serving zone ${formatName(zone.origin)} (${zone.records.length} records)`);
  const backend = await openBackend(options.backend, { port: 53, defaultListen: '127.0.0.1:5353', defaultForwards: ['udp:5353:53', 'tcp:5353:53'], protocols: ['udp', 'tcp'] }, options.log, clock);
  const service = serveDns({ server, clock, udp: backend.stack.udp, tcp: backend.stack.tcp, port: backend.port });
  options.log.debug(`dns listening on ${backend.address === undefined ? 'every address' : formatIpv4(backend.address)} port ${service.port}`);
  const targets = notifyTargets.map((t) => ({ address: parseIpv4(t.host), port: t.port }));
  const notifyAll = (current: readonly Zone[]): void => {
    if (targets.length === 0) return;
    for (const zone of current) {
      const soa = zone.records.find((r) => r.type === 6);
      void sendNotify({ udp: backend.stack.udp, clock, random }, { zone: zone.origin, soa, targets }).then((results) => {
        for (const r of results) options.log[r.acknowledged ? 'info' : 'warn'](`NOTIFY ${formatName(zone.origin)} to ${formatIpv4(r.target.address)}:${r.target.port ?? 53}: ${r.acknowledged ? 'acknowledged' : 'no answer'}`);
      });
    }
  };
  notifyAll(zones);
  return {
    backend,
    stats: () => ({ ...service.stats() }) as Record<string, number>,
    async reload() {
      const fresh = options.zones ?? (await loadZones(options.zoneFiles));
      server.reload(fresh);
      options.log.info('zones reloaded');
      notifyAll(fresh);
    },
    async close() {
      service.close();
      await backend.close();
    },
  };
}
