/** `morgana www <dir>`: the static website appliance. */
import { type Clock, createSystemClock } from '@morgana/core';
import { createStaticHandler, type FileSource, HttpServer } from '@morgana/http';
import type { Appliance } from './appliance.js';
import { type BackendOptions, openBackend } from './backend.js';
import { createFolderSource } from './fs-source.js';
import type { Logger } from './log.js';

/** `morgana www <dir>`: the static website. */
export async function startWww(options: { readonly source: FileSource | string; readonly backend: BackendOptions; readonly log: Logger; readonly clock?: Clock }): Promise<Appliance> {
  const clock = options.clock ?? createSystemClock();
  const source = typeof options.source === 'string' ? await createFolderSource(options.source) : options.source;
  const backend = await openBackend(options.backend, { port: 80, defaultListen: '127.0.0.1:8080', defaultForwards: ['8080:80'], protocols: ['tcp'] }, options.log, clock);
  // Files are stat'ed at most once a second each: a changed file is served within a second.
  const statics = createStaticHandler(source, { clock, revalidateAfter: 1000 });
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

