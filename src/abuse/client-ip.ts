import ipaddr from 'ipaddr.js';

/**
 * The real client IP, read through trusted proxy hops only. A forwarded header is believed
 * only as far as the hops that wrote it are trusted: the connection's peer first, then each
 * address of the header from the right (the nearest hop appends last). The first address that
 * is not a trusted proxy is the client; anything left of it was written by the client itself
 * and is ignored.
 */

/** `server.trusted_proxies`, compiled: CIDR ranges, or a number of hops in front of the gateway. */
export type TrustedProxies = { kind: 'none' } | { kind: 'cidrs'; ranges: Array<[ipaddr.IPv4 | ipaddr.IPv6, number]> } | { kind: 'hops'; hops: number };

/** A single address or CIDR (`10.0.0.0/8`, `::1`, `fd00::/8`); undefined when it is not one. */
export function parseCidr(text: string): [ipaddr.IPv4 | ipaddr.IPv6, number] | undefined {
  const [address = '', bits, ...rest] = text.trim().split('/');
  // ipaddr.js also accepts shorthand IPv4 (`1.2.3`, `0x7f.1`); only dotted quads and IPv6 here.
  if (rest.length > 0 || (!ipaddr.IPv6.isValid(address) && !ipaddr.IPv4.isValidFourPartDecimal(address))) return undefined;
  try {
    const parsed = ipaddr.parse(address);
    const max = parsed.kind() === 'ipv4' ? 32 : 128;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
    if (!(prefix >= 0 && prefix <= max)) return undefined;
    const addr = unmap(parsed);
    // `::ffff:10.0.0.0/104` is 10.0.0.0/8.
    return [addr, addr.kind() !== parsed.kind() ? Math.max(0, prefix - 96) : prefix];
  } catch {
    return undefined;
  }
}

/** Compiles the config value (already validated by the config schema). */
export function compileTrustedProxies(value: readonly string[] | number | undefined): TrustedProxies {
  if (value === undefined) return { kind: 'none' };
  if (typeof value === 'number') return value > 0 ? { kind: 'hops', hops: value } : { kind: 'none' };
  const ranges = value.map((v) => parseCidr(v)).filter((r): r is [ipaddr.IPv4 | ipaddr.IPv6, number] => r !== undefined);
  return ranges.length > 0 ? { kind: 'cidrs', ranges } : { kind: 'none' };
}

function unmap(addr: ipaddr.IPv4 | ipaddr.IPv6): ipaddr.IPv4 | ipaddr.IPv6 {
  return addr.kind() === 'ipv6' && (addr as ipaddr.IPv6).isIPv4MappedAddress() ? (addr as ipaddr.IPv6).toIPv4Address() : addr;
}

/**
 * A strict IP literal in canonical form (`::ffff:1.2.3.4` → `1.2.3.4`, IPv6 compressed), or
 * undefined. Ports and brackets as proxies write them (`1.2.3.4:5678`, `[::1]:80`) are removed.
 */
export function canonicalIp(text: string | undefined): string | undefined {
  if (text === undefined) return undefined;
  let value = text.trim();
  if (value.length === 0 || value.length > 64) return undefined;
  const bracketed = /^\[([^\]]+)\](?::\d{1,5})?$/.exec(value);
  if (bracketed) value = bracketed[1]!;
  else if (/^\d{1,3}(\.\d{1,3}){3}:\d{1,5}$/.test(value)) value = value.slice(0, value.lastIndexOf(':'));
  // ipaddr.js also accepts shorthand IPv4 forms (`1`, `0x7f.1`); only dotted quads and IPv6 are real addresses here.
  if (!ipaddr.IPv6.isValid(value) && !ipaddr.IPv4.isValidFourPartDecimal(value)) return undefined;
  if (value.includes('%')) return undefined; // zone ids are local to a host
  try {
    return unmap(ipaddr.parse(value)).toString();
  } catch {
    return undefined;
  }
}

function isTrusted(ip: string, trust: TrustedProxies, hopIndex: number): boolean {
  switch (trust.kind) {
    case 'none':
      return false;
    case 'hops':
      return hopIndex < trust.hops;
    case 'cidrs': {
      const addr = ipaddr.parse(ip);
      return trust.ranges.some(([range, bits]) => range.kind() === addr.kind() && addr.match(range, bits));
    }
  }
}

/**
 * The `for=` addresses of an RFC 7239 `Forwarded` header, left to right. Quoted values are
 * unquoted; an element without `for=` or with an obfuscated/unknown node gives `undefined`.
 */
export function parseForwarded(value: string): Array<string | undefined> {
  const out: Array<string | undefined> = [];
  // Split on commas outside quoted strings.
  const elements: string[] = [];
  let current = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const ch = value[i]!;
    if (ch === '"') quoted = !quoted;
    else if (ch === '\\' && quoted) {
      current += ch + (value[++i] ?? '');
      continue;
    }
    if (ch === ',' && !quoted) {
      elements.push(current);
      current = '';
    } else current += ch;
  }
  elements.push(current);
  for (const element of elements) {
    let found: string | undefined;
    for (const pair of element.split(';')) {
      const eq = pair.indexOf('=');
      if (eq < 0) continue;
      if (pair.slice(0, eq).trim().toLowerCase() !== 'for') continue;
      let v = pair.slice(eq + 1).trim();
      if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1).replace(/\\(.)/g, '$1');
      found = canonicalIp(v);
    }
    out.push(found);
  }
  return out;
}

export interface ClientIpInput {
  /** The connection's peer as the runtime sees it. */
  peer: string | undefined;
  trust: TrustedProxies;
  /** The header trusted proxies write (`x-forwarded-for`, `forwarded`, or a single-value one like `x-real-ip`). */
  headerName: string;
  headerValue: string | undefined;
}

/** The client IP (canonical), or the peer's when no trusted hop vouches for another. */
// The peer of every request is parsed again and again (a few µs with ipaddr.js): the last few
// hundred are remembered. Bounded, so a flood of distinct peers costs at most its size.
const peerCache = new Map<string, string | undefined>();
const PEER_CACHE_SIZE = 512;

function canonicalPeer(peer: string | undefined): string | undefined {
  if (peer === undefined) return undefined;
  if (peerCache.has(peer)) return peerCache.get(peer);
  const canonical = canonicalIp(peer);
  if (peerCache.size >= PEER_CACHE_SIZE) peerCache.delete(peerCache.keys().next().value!);
  peerCache.set(peer, canonical);
  return canonical;
}

export function resolveClientIp(input: ClientIpInput): string | undefined {
  const peer = canonicalPeer(input.peer);
  if (peer === undefined || input.headerValue === undefined || !isTrusted(peer, input.trust, 0)) return peer;
  // Many hops may write X-Forwarded-For and Forwarded in several header lines; Hono joins them with ", ".
  let chain: Array<string | undefined>;
  if (input.headerName === 'forwarded') chain = parseForwarded(input.headerValue);
  else if (input.headerName === 'x-forwarded-for') chain = input.headerValue.split(',').map((v) => canonicalIp(v));
  else chain = [canonicalIp(input.headerValue)];
  let client = peer;
  for (let i = chain.length - 1, hop = 1; i >= 0; i--, hop++) {
    const ip = chain[i];
    // A hop that wrote something unusable: stop at the last address a trusted hop vouched for.
    if (ip === undefined) return client;
    client = ip;
    if (!isTrusted(ip, input.trust, hop)) return ip;
  }
  return client;
}

/**
 * The rate-limit key of an address: IPv4 as is, IPv6 by its /64 (one host usually holds a
 * whole /64, so counting single IPv6 addresses would be no limit at all).
 */
export function rateKeyOfIp(ip: string | undefined): string {
  if (ip === undefined) return 'unknown';
  try {
    const addr = ipaddr.parse(ip);
    if (addr.kind() === 'ipv4') return addr.toString();
    const parts = (addr as ipaddr.IPv6).parts.slice(0, 4);
    return `${parts.map((p) => p.toString(16)).join(':')}::/64`;
  } catch {
    return 'unknown';
  }
}
