/** The ready-made appliances: each composes a service with a backend. */
import { readFileSync, realpathSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, dirname, resolve, sep } from 'node:path';
import { type Clock, createSystemClock, formatIpv4, type Ipv4Address, parseIpv4Prefix, prefixContains } from '@morgana/core';
import { AuthoritativeServer, checkZone, formatName, parseName, parseZone, serveDns, type Zone } from '@morgana/dns';
import { createStaticHandler, type FileSource, HttpServer } from '@morgana/http';
import { type Backend, type BackendOptions, openBackend, UsageError } from './backend.js';
import { createFolderSource } from './fs-source.js';
import type { Logger } from './log.js';

/** A running appliance. */
export interface Appliance {
  readonly backend: Backend;
  stats(): Record<string, number>;
  close(): Promise<void>;
}

/** `morgana www <dir>`: the static website. */
export async function startWww(options: { readonly source: FileSource | string; readonly backend: BackendOptions; readonly log: Logger; readonly clock?: Clock }): Promise<Appliance> {
  const clock = options.clock ?? createSystemClock();
  const source = typeof options.source === 'string' ? await createFolderSource(options.source) : options.source;
  const backend = await openBackend(options.backend, { port: 80, defaultListen: '127.0.0.1:8080', defaultForwards: ['8080:80'], protocols: ['tcp'] }, options.log, clock);
  const statics = createStaticHandler(source);
  const server = new HttpServer(
    async (request) => {
      const response = await statics(request);
      options.log.debug(`${request.method} ${request.target} → ${response.status}`);
      return response;
    },
    { clock, serverName: 'morgana' },
  );
  const listener = server.listen(backend.stack.tcp, backend.port, backend.address);
  return {
    backend,
    stats: () => ({ ...server.stats() }) as Record<string, number>,
    async close() {
      listener.close();
      server.closeAll();
      await backend.close();
    },
  };
}

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
  readonly allowTransfer?: readonly string[];
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
  const zones = await loadZones(options.zoneFiles);
  const server = new AuthoritativeServer({ zones, clock, allowTransfer: (address: Ipv4Address) => allowed.some((p) => prefixContains(p, address)) });
  for (const zone of zones) options.log.info(`serving zone ${formatName(zone.origin)} (${zone.records.length} records)`);
  const backend = await openBackend(options.backend, { port: 53, defaultListen: '127.0.0.1:5353', defaultForwards: ['udp:5353:53', 'tcp:5353:53'], protocols: ['udp', 'tcp'] }, options.log, clock);
  const service = serveDns({ server, clock, udp: backend.stack.udp, tcp: backend.stack.tcp, port: backend.port });
  options.log.debug(`dns listening on ${backend.address === undefined ? 'every address' : formatIpv4(backend.address)} port ${service.port}`);
  return {
    backend,
    stats: () => ({ ...service.stats() }) as Record<string, number>,
    async reload() {
      server.reload(await loadZones(options.zoneFiles));
      options.log.info('zones reloaded');
    },
    async close() {
      service.close();
      await backend.close();
    },
  };
}
