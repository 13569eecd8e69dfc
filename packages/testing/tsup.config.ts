// The repository's shared build, with one entry per subpath export: `@morgana/testing/node`
// (pcap files on disk) is the only Node-specific module, kept out of the runtime-neutral index,
// and each protocol's arbitraries (`/ethernet`, `/ipv4`, ...) are their own entry, so a user
// installs and loads only the protocol packages whose arbitraries they import.
import { defineConfig } from 'tsup';

export default defineConfig({
  entry: [
    'src/index.ts',
    'src/node.ts',
    'src/mutators.ts',
    'src/ethernet.ts',
    'src/ipv4.ts',
    'src/udp.ts',
    'src/tcp.ts',
    'src/dns.ts',
    'src/http.ts',
    'src/ssh.ts',
    'src/xmpp.ts',
    'src/openflow.ts',
  ],
  format: ['esm', 'cjs'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  platform: 'neutral',
  // Node built-ins stay imports of the node entry; the index never reaches them. The protocol
  // packages are optional peers: imported, never bundled.
  external: [/^node:/, /^@morgana\//, 'fast-check'],
  outExtension: ({ format }) => ({ js: format === 'cjs' ? '.cjs' : '.js' }),
});
