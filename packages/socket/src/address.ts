/** Node's textual socket addresses as morgana's numeric IPv4 addresses. */
import { type Ipv4Address, parseIpv4 } from '@morgana/core';

/** How Node writes an IPv4 peer of a dual-stack (`::`) socket (RFC 4291 §2.5.5.2). */
const IPV4_MAPPED_PREFIX = '::ffff:';

/** The IPv4 address of a Node address string, or `undefined` for an IPv6 peer or none. */
export function ipv4FromNode(text: string | undefined): Ipv4Address | undefined {
  if (text === undefined) return undefined;
  const plain = text.toLowerCase().startsWith(IPV4_MAPPED_PREFIX) ? text.slice(IPV4_MAPPED_PREFIX.length) : text;
  if (!/^[0-9]{1,3}(\.[0-9]{1,3}){3}$/.test(plain)) return undefined;
  return parseIpv4(plain);
}
