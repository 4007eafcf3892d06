import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp, compileTrustedProxies, parseCidr, parseForwarded, rateKeyOfIp, resolveClientIp } from '../../src/abuse/client-ip.ts';
import { parseConfig } from '../../src/config.ts';

const kratos = { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' };

function ip(peer: string | undefined, trusted: readonly string[] | number | undefined, value: string | undefined, headerName = 'x-forwarded-for') {
  return resolveClientIp({ peer, trust: compileTrustedProxies(trusted), headerName, headerValue: value });
}

describe('trusted proxies: parsing', () => {
  it('parses IPv4 and IPv6 addresses and CIDRs, and refuses everything else', () => {
    expect(parseCidr('10.0.0.0/8')?.[1]).toBe(8);
    expect(parseCidr('127.0.0.1')?.[1]).toBe(32);
    expect(parseCidr('fd00::/8')?.[1]).toBe(8);
    expect(parseCidr('::1')?.[1]).toBe(128);
    for (const bad of ['', 'localhost', '10.0.0.0/33', '::/129', '1.2.3.4/-1', '10.0.0.0/8/8', '1.2.3', 'fd00::/x']) expect(parseCidr(bad), bad).toBeUndefined();
  });

  it('is a config key: a CIDR list or a hop count, with errors naming the key', () => {
    expect(parseConfig({ kratos, server: { trusted_proxies: ['10.0.0.0/8', '::1'] } }).server.trusted_proxies).toEqual(['10.0.0.0/8', '::1']);
    expect(parseConfig({ kratos, server: { trusted_proxies: 2 } }).server.trusted_proxies).toBe(2);
    expect(parseConfig({ kratos }).server.client_ip_header).toBe('x-forwarded-for');
    expect(() => parseConfig({ kratos, server: { trusted_proxies: ['10.0.0.0/33'] } })).toThrow(/server\.trusted_proxies\[0\]: must be an IP address or CIDR/);
    expect(() => parseConfig({ kratos, server: { trusted_proxies: 0 } })).toThrow(/server\.trusted_proxies/);
    expect(() => parseConfig({ kratos, server: { trusted_proxies: [] } })).toThrow(/server\.trusted_proxies/);
    expect(() => parseConfig({ kratos, server: { client_ip_header: 'x forwarded' } })).toThrow(/server\.client_ip_header/);
  });

  it('canonicalises addresses and strips the ports and brackets proxies add', () => {
    expect(canonicalIp(' 203.0.113.7 ')).toBe('203.0.113.7');
    expect(canonicalIp('203.0.113.7:4711')).toBe('203.0.113.7');
    expect(canonicalIp('[2001:db8:cafe::17]:4711')).toBe('2001:db8:cafe::17');
    expect(canonicalIp('2001:DB8:0:0:0:0:0:1')).toBe('2001:db8::1');
    expect(canonicalIp('::ffff:192.0.2.1')).toBe('192.0.2.1');
    for (const bad of ['unknown', '_hidden', '1', '0x7f.1', '127.1', 'fe80::1%eth0', '1.2.3.4.5', '<script>', 'a'.repeat(100), '']) expect(canonicalIp(bad), bad).toBeUndefined();
  });

  it('parses RFC 7239 Forwarded: quoted IPv6 with port, several elements, other parameters, obfuscated nodes', () => {
    expect(parseForwarded('for=192.0.2.60;proto=http;by=203.0.113.43')).toEqual(['192.0.2.60']);
    expect(parseForwarded('for="[2001:db8:cafe::17]:4711", For=198.51.100.17')).toEqual(['2001:db8:cafe::17', '198.51.100.17']);
    expect(parseForwarded('for=unknown, for=_hidden, proto=https')).toEqual([undefined, undefined, undefined]);
    expect(parseForwarded('for="1.2.3.4, 5.6.7.8", for=9.9.9.9')).toEqual([undefined, '9.9.9.9']);
  });
});

describe('trusted proxies: the client IP', () => {
  it('without trusted proxies, forwarded headers are ignored: the peer is the client', () => {
    expect(ip('198.51.100.9', undefined, '1.2.3.4')).toBe('198.51.100.9');
  });

  it("ignores an untrusted peer's X-Forwarded-For and Forwarded", () => {
    expect(ip('198.51.100.9', ['10.0.0.0/8'], '1.2.3.4')).toBe('198.51.100.9');
    expect(ip('198.51.100.9', ['10.0.0.0/8'], 'for=1.2.3.4', 'forwarded')).toBe('198.51.100.9');
  });

  it('walks X-Forwarded-For from the right through trusted hops; what the client wrote on the left is ignored', () => {
    // client spoofs 6.6.6.6; the real client is 203.0.113.5; two trusted proxies (10.0.0.2 appended by the outer one).
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '6.6.6.6, 203.0.113.5, 10.0.0.2')).toBe('203.0.113.5');
    expect(ip('::ffff:10.0.0.1', ['10.0.0.0/8'], '203.0.113.5')).toBe('203.0.113.5');
    expect(ip('::1', ['::1'], '2001:db8::5')).toBe('2001:db8::5');
    // Every hop trusted: the leftmost is the client.
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '10.0.0.3, 10.0.0.2')).toBe('10.0.0.3');
  });

  it('with a hop count, trusts that many hops and no more', () => {
    expect(ip('10.0.0.1', 1, '6.6.6.6, 203.0.113.5')).toBe('203.0.113.5');
    expect(ip('10.0.0.1', 2, '6.6.6.6, 203.0.113.5, 10.0.0.2')).toBe('203.0.113.5');
    // More hops configured than written: the leftmost written address.
    expect(ip('10.0.0.1', 3, '203.0.113.5')).toBe('203.0.113.5');
  });

  it('reads Forwarded through trusted hops', () => {
    expect(ip('10.0.0.1', ['10.0.0.0/8'], 'for=6.6.6.6, for="[2001:db8::9]:1234";proto=https', 'forwarded')).toBe('2001:db8::9');
  });

  it('reads a single-value header (x-real-ip) only from a trusted peer', () => {
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '203.0.113.5', 'x-real-ip')).toBe('203.0.113.5');
    expect(ip('203.0.113.99', ['10.0.0.0/8'], '203.0.113.5', 'x-real-ip')).toBe('203.0.113.99');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '6.6.6.6, 7.7.7.7', 'x-real-ip')).toBe('10.0.0.1');
  });

  it('stops at a hostile or unusable entry instead of believing what lies left of it', () => {
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '6.6.6.6, garbage')).toBe('10.0.0.1');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '6.6.6.6,,')).toBe('10.0.0.1');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '6.6.6.6, 10.0.0.2, 0x7f.1')).toBe('10.0.0.1');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], 'for=unknown', 'forwarded')).toBe('10.0.0.1');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], '')).toBe('10.0.0.1');
    expect(ip('10.0.0.1', ['10.0.0.0/8'], `${'1.1.1.1,'.repeat(1000)}203.0.113.5`)).toBe('203.0.113.5');
    expect(ip(undefined, ['10.0.0.0/8'], '203.0.113.5')).toBeUndefined();
    expect(ip('not-an-ip', 1, '203.0.113.5')).toBeUndefined();
  });

  it('keys IPv6 clients by their /64, IPv4 by the address', () => {
    expect(rateKeyOfIp('2001:db8:1:2:aaaa::1')).toBe(rateKeyOfIp('2001:db8:1:2:bbbb::2'));
    expect(rateKeyOfIp('2001:db8:1:2::1')).not.toBe(rateKeyOfIp('2001:db8:1:3::1'));
    expect(rateKeyOfIp('192.0.2.1')).toBe('192.0.2.1');
    expect(rateKeyOfIp(undefined)).toBe('unknown');
  });
});

describe('trusted proxies: any header value (property)', () => {
  it('never throws, and yields the peer or a canonical IP address', () => {
    const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((p) => p.join('.'));
    const part = fc.oneof(ipv4, fc.string(), fc.constantFrom('unknown', '_x', '[::1]:80', 'for=1.2.3.4', '"', ';', ',', '::ffff:10.0.0.9', '1.2.3.4:99999'));
    const header = fc.array(part, { maxLength: 8 }).map((parts) => parts.join(fc.sample(fc.constantFrom(',', ', ', ';', ' '), 1)[0]!));
    fc.assert(
      fc.property(header, fc.constantFrom('x-forwarded-for', 'forwarded', 'x-real-ip'), fc.oneof(fc.constant<string[] | number>(['10.0.0.0/8']), fc.integer({ min: 1, max: 4 })), (value, headerName, trusted) => {
        const out = ip('10.0.0.1', trusted, value, headerName);
        expect(out === '10.0.0.1' || canonicalIp(out) === out).toBe(true);
      }),
      { seed: 1212, numRuns: 2000 },
    );
  });
});
