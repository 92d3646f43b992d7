import ipaddr from 'ipaddr.js';

/** Network allowlists and client addresses. IPv4-mapped IPv6 addresses count as IPv4. */

type Addr = ipaddr.IPv4 | ipaddr.IPv6;

/**
 * Only the plain forms: four decimal octets without leading zeros, or IPv6 (an embedded IPv4 tail
 * held to the same rule). ipaddr.js also reads the inet_aton forms, in which `010.0.0.0` is octal
 * (8.0.0.0) and `127.1` is 127.0.0.1: an admin who typed a zero-padded office range would have
 * allowed someone else's network.
 */
const OCTET = '(?:25[0-5]|2[0-4]\\d|1\\d\\d|[1-9]?\\d)';
const IPV4 = new RegExp(`^${OCTET}(?:\\.${OCTET}){3}$`);
function isPlainAddress(address: string): boolean {
  if (!address.includes(':')) return IPV4.test(address);
  const cut = address.lastIndexOf(':') + 1;
  const tail = address.slice(cut);
  if (!tail.includes('.')) return ipaddr.IPv6.isValid(address);
  if (!IPV4.test(tail)) return false;
  // A dotted tail only in the IPv4-mapped form (::ffff:a.b.c.d). ipaddr.js reads every dotted tail
  // as mapped, so the deprecated IPv4-compatible `::a.b.c.d` (the IPv6 address ::a00:0 for
  // ::10.0.0.0) would become the IPv4 range: `::0.0.0.0/96` allowed every IPv4 client.
  const [a, b, c, d] = tail.split('.').map(Number) as [number, number, number, number];
  const hex = `${address.slice(0, cut)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  return ipaddr.IPv6.isValid(hex) && ipaddr.IPv6.parse(hex).isIPv4MappedAddress();
}

/**
 * An IPv6 address's zone (`fe80::1%eth0`: the interface of a link-local peer, as Node reports it)
 * names an interface of the machine that saw it and means nothing to anyone else; PostgreSQL's
 * inet refuses it, so an address kept with one failed every login and logout from it with a 500
 * (and a wrong password from it went uncounted). Dropped before anything reads the address.
 */
const withoutZone = (address: string) => (address.includes(':') && address.includes('%') ? address.slice(0, address.indexOf('%')) : address);

function normalise(address: string): Addr | undefined {
  const text = withoutZone(address.trim());
  if (!isPlainAddress(text)) return undefined;
  try {
    const parsed = ipaddr.parse(text);
    return parsed.kind() === 'ipv6' && (parsed as ipaddr.IPv6).isIPv4MappedAddress()
      ? (parsed as ipaddr.IPv6).toIPv4Address()
      : parsed;
  } catch {
    return undefined;
  }
}

export function parseCidr(cidr: string): [Addr, number] | undefined {
  const m = /^([0-9a-fA-F:.]+)\/(0|[1-9]\d{0,2})$/.exec(cidr);
  if (!m || !isPlainAddress(m[1]!)) return undefined;
  try {
    const [addr, bits] = ipaddr.parseCIDR(cidr);
    // The address must be the network's own (no host bits), so the list means what it says.
    const network = addr.kind() === 'ipv4' ? ipaddr.IPv4.networkAddressFromCIDR(cidr) : ipaddr.IPv6.networkAddressFromCIDR(cidr);
    if (network.toString() !== addr.toString()) return undefined;
    // IPv4-mapped entries (::ffff:a.b.c.d/n) mean IPv4, as client addresses do: stored as IPv4, or
    // they would never match anyone (clients arrive as IPv4). Below /96 the range is not IPv4's.
    if (addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress()) {
      return bits >= 96 ? [(addr as ipaddr.IPv6).toIPv4Address(), bits - 96] : undefined;
    }
    return [addr, bits];
  } catch {
    return undefined;
  }
}

export function canonicalCidr(cidr: string): string | undefined {
  const parsed = parseCidr(cidr);
  return parsed ? `${parsed[0].toString()}/${parsed[1]}` : undefined;
}

export function ipInCidrs(ip: string, cidrs: readonly string[]): boolean {
  const addr = normalise(ip);
  if (!addr) return false;
  return cidrs.some((c) => {
    const range = parseCidr(c);
    return range !== undefined && range[0].kind() === addr.kind() && addr.match(range as never);
  });
}

/** Whether a clinic with this allowlist may be reached from `ip` (an empty list allows everywhere). */
export const isAllowedFrom = (ip: string, allowlist: readonly string[]) => allowlist.length === 0 || ipInCidrs(ip, allowlist);

/**
 * The client's address: the socket peer, unless the peer is a trusted proxy, in which case the
 * right-most X-Forwarded-For entry that is not itself a trusted proxy (clients can forge the rest).
 */
export function clientIp(peer: string, forwardedFor: string | undefined, trustedProxies: readonly string[]): string {
  const peerAddr = normalise(peer)?.toString() ?? peer;
  if (!forwardedFor || trustedProxies.length === 0 || !ipInCidrs(peerAddr, trustedProxies)) return peerAddr;
  const hops = forwardedFor.split(',').map((h) => h.trim()).filter(Boolean);
  for (let i = hops.length - 1; i >= 0; i -= 1) {
    const hop = normalise(hops[i]!);
    if (!hop) return peerAddr;
    if (!ipInCidrs(hop.toString(), trustedProxies)) return hop.toString();
  }
  return peerAddr;
}

/**
 * The network a client address stands for in rate limits and probe records: an IPv4 address
 * itself, an IPv6 address's /64 (one subscriber's or host's usual allocation, so a client cannot
 * step around a limit by rotating the low 64 bits it owns). Unparseable input is kept as it is.
 */
export function addressKey(ip: string): string {
  const addr = normalise(ip);
  if (!addr) return ip;
  if (addr.kind() === 'ipv4') return addr.toString();
  return `${ipaddr.IPv6.networkAddressFromCIDR(`${addr.toString()}/64`).toString()}/64`;
}
