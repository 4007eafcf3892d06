import { z } from 'zod';

/**
 * The allow-list behind the `redirect` after-job's user-defined `return_to`. A redirect target
 * chosen by the client is an open-redirect (and, for odd schemes, script-injection) vector, so
 * the check is deliberately narrower than what browsers accept: anything ambiguous is refused.
 */

const MAX_LENGTH = 2048;

// ASCII controls (incl. tab/CR/LF, which the URL parser silently strips), DEL, C1 controls,
// any Unicode whitespace, and backslashes (which the URL parser turns into "/" for http(s)).
const FORBIDDEN_CHARS = /[\u0000-\u001f\u007f-\u009f\s\\]/u;

// Encoded ".", "/", "\", "%" and controls in a path: servers and frameworks disagree on
// whether to decode them before routing, so they could step out of the allowed prefix.
const ENCODED_PATH_TRICKS = /%(?:2e|2f|5c|25|[01][0-9a-f]|7f)/i;

// Schemes that run code, read local data or hand the URL to another app; never a target,
// whatever the config says.
const NEVER_ALLOWED_SCHEMES = new Set([
  'javascript:',
  'vbscript:',
  'data:',
  'blob:',
  'file:',
  'filesystem:',
  'about:',
  'view-source:',
  'intent:',
]);

// Schemes with WHATWG "special" parsing; they are web URLs, not app deep links.
const SPECIAL_SCHEMES = new Set(['http:', 'https:', 'ws:', 'wss:', 'ftp:', 'file:']);

// `scheme:` then an optional `//authority`, then the path up to the query or fragment.
const RAW_SHAPE = /^([A-Za-z][A-Za-z0-9+.-]*):(?:\/\/([^/?#]*))?([^?#]*)/;

// A DNS name or IPv4 address as the URL parser leaves it (lowercase, punycode), or an IPv6 literal.
const WEB_HOST = /^(?:[a-z0-9_-]+(?:\.[a-z0-9_-]+)*|\[[0-9a-f:.]+\])$/;

interface RawParts {
  url: URL;
  /** The authority as written, `undefined` when there is no `//`. */
  authority: string | undefined;
  /** The path as written, before the URL parser normalised it. */
  path: string;
}

/** Parses an absolute URL after the raw-text checks shared by patterns and candidates. */
function parseRaw(raw: string): RawParts | string {
  if (raw.length === 0) return 'is empty';
  if (raw.length > MAX_LENGTH) return `is longer than ${MAX_LENGTH} characters`;
  if (FORBIDDEN_CHARS.test(raw)) return 'contains whitespace, control characters or backslashes';
  const shape = RAW_SHAPE.exec(raw);
  if (!shape) return 'is not an absolute URL';
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return 'is not an absolute URL';
  }
  const authority = shape[2];
  // "@" anywhere in the authority is userinfo, even when empty (`https://@evil.com`).
  if (url.username !== '' || url.password !== '' || authority?.includes('@')) return 'contains credentials';
  // The host parser percent-decodes (`app%2eexample.com` is `app.example.com`); a real host never needs "%".
  if (authority?.includes('%')) return 'has a percent-encoded host';
  const path = shape[3] ?? '';
  if (ENCODED_PATH_TRICKS.test(path) || ENCODED_PATH_TRICKS.test(url.pathname)) {
    return 'has an encoded ".", "/", "\\", "%" or control character in its path';
  }
  // `..;` is a dot segment for some servers (Tomcat); `//` turns into a protocol-relative URL if
  // a client ever reuses the path alone.
  if (url.pathname.includes('//') || url.pathname.split('/').some((s) => /^\.\.?(?:;|$)/.test(s))) {
    return 'has an ambiguous path';
  }
  return { url, authority, path };
}

/** `/app/` and `/app` both allow the `/app` subtree; `""` or `/` allow everything. */
function pathPrefix(pathname: string): string {
  return pathname.replace(/\/+$/, '');
}

function underPrefix(pathname: string, prefix: string): boolean {
  // Segment boundary: `/app` covers `/app` and `/app/…`, never `/apple`.
  return pathname === prefix || pathname.startsWith(`${prefix}/`);
}

interface WebRule {
  readonly kind: 'web';
  readonly protocol: string;
  /** The exact hostname, or with `wildcard` the suffix below which any subdomain matches. */
  readonly host: string;
  readonly wildcard: boolean;
  /** `""` is the scheme's default port. */
  readonly port: string;
  readonly path: string;
}

interface NativeRule {
  readonly kind: 'native';
  readonly protocol: string;
  readonly host: string;
  readonly port: string;
  readonly path: string;
}

type AllowRule = WebRule | NativeRule;

/** Compiles one `allowed_urls` entry, or says what is wrong with it. */
function compileWebPattern(pattern: string): WebRule | string {
  // The URL parser would take `*` as a host character; swap the leading wildcard label for a
  // placeholder so the rest of the host goes through the normal (IDNA) host parser.
  const wildcard = /^https?:\/\/\*\./i.test(pattern);
  const parsed = parseRaw(wildcard ? pattern.replace('*.', 'x.') : pattern);
  if (typeof parsed === 'string') return parsed;
  const { url, authority } = parsed;
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return 'must be an http(s) URL';
  if (authority === undefined || authority === '') return 'must be written as http(s)://host/path';
  if (pattern.includes('?') || pattern.includes('#')) return 'may not have a query or fragment';
  if (url.hostname.includes('*') || url.pathname.includes('*')) {
    return 'may use a wildcard only as the leading "*." label of the host';
  }
  if (!WEB_HOST.test(url.hostname)) return 'has an invalid host';
  let host = url.hostname;
  if (wildcard) {
    host = host.slice('x.'.length);
    // `*.com` would cover every site of a TLD; multi-label public suffixes (`*.co.uk`) cannot be
    // told apart without the public suffix list, so they remain the operator's responsibility.
    if (host.split('.').length < 2 || /^[0-9.]+$/.test(host)) {
      return 'wildcard must be followed by at least two labels of a domain name';
    }
  }
  return { kind: 'web', protocol: url.protocol, host, wildcard, port: url.port, path: pathPrefix(url.pathname) };
}

/** Compiles one `native_urls` entry, or says what is wrong with it. */
function compileNativePattern(pattern: string): NativeRule | string {
  const parsed = parseRaw(pattern);
  if (typeof parsed === 'string') return parsed;
  const { url } = parsed;
  if (SPECIAL_SCHEMES.has(url.protocol) || NEVER_ALLOWED_SCHEMES.has(url.protocol)) {
    return `must use an app's own scheme, not ${url.protocol}`;
  }
  if (pattern.includes('?') || pattern.includes('#')) return 'may not have a query or fragment';
  if (pattern.includes('*')) return 'may not contain wildcards';
  // An opaque path (`myapp:callback`) has no segments to match a prefix on.
  if (url.pathname !== '' && !url.pathname.startsWith('/')) return 'must be written as scheme://host/path or scheme:/path';
  return { kind: 'native', protocol: url.protocol, host: url.hostname, port: url.port, path: pathPrefix(url.pathname) };
}

function patternList(compile: (p: string) => AllowRule | string) {
  return z.array(
    z.string().superRefine((pattern, ctx) => {
      const rule = compile(pattern);
      if (typeof rule === 'string') ctx.addIssue({ code: 'custom', message: `"${pattern}" ${rule}` });
    }),
  );
}

export const returnToConfigSchema = z
  .object({
    /** http(s) URL prefixes a browser may be sent back to; `https://*.example.com` covers subdomains. */
    allowed_urls: patternList(compileWebPattern).default([]),
    /** App deep-link prefixes (`myapp://callback`), matched exactly by scheme and host. */
    native_urls: patternList(compileNativePattern).default([]),
  })
  .strict();

export type ReturnToConfig = z.infer<typeof returnToConfigSchema>;

/** The compiled allow-list; build it once with `compileReturnToPolicy`. */
export interface ReturnToPolicy {
  readonly rules: readonly AllowRule[];
}

/** Compiles a validated config; throws on a pattern the schema would have refused. */
export function compileReturnToPolicy(cfg: ReturnToConfig): ReturnToPolicy {
  const rules: AllowRule[] = [];
  const add = (list: readonly string[], compile: (p: string) => AllowRule | string) => {
    for (const pattern of list) {
      const rule = compile(pattern);
      if (typeof rule === 'string') throw new Error(`return_to pattern "${pattern}" ${rule}`);
      rules.push(rule);
    }
  };
  add(cfg.allowed_urls, compileWebPattern);
  add(cfg.native_urls, compileNativePattern);
  return { rules };
}

function matchesRule(url: URL, rule: AllowRule): boolean {
  if (url.protocol !== rule.protocol || url.port !== rule.port) return false;
  if (!underPrefix(url.pathname, rule.path)) return false;
  if (rule.kind === 'native') return url.hostname === rule.host;
  if (!rule.wildcard) return url.hostname === rule.host;
  // Strictly below the suffix: `a.example.com`, not `example.com` nor `evilexample.com`.
  return url.hostname.length > rule.host.length + 1 && url.hostname.endsWith(`.${rule.host}`);
}

export type ReturnToCheck = { ok: true; url: string } | { ok: false; reason: string };

export interface ReturnToCheckOptions {
  /** The redirect job's `redirect_to`: a relative `return_to` path is resolved on its origin. */
  relativeTo?: string | undefined;
}

// A path-absolute reference as honest clients write it: "/" alone, or "/" and then a character
// that cannot start an authority (browsers read `//evil.com` and `/\evil.com` as another host).
const RELATIVE_PATH = /^\/(?![/\\])/;

// Two leading slashes or backslashes in any mix: a protocol-relative reference to another host.
const PROTOCOL_RELATIVE = /^[/\\]{2}/;

// A `.` or `..` segment (also `..;`, a dot segment for some servers).
const DOT_SEGMENT = /^\.\.?(?:;|$)/;

/**
 * Makes a relative `return_to` path absolute on the origin of `relativeTo`, as Kratos does
 * (`x.SecureRedirectTo` fills in the scheme and host of its default return URL). Only the raw
 * text is checked here; the absolute result then takes every check an absolute `return_to` does.
 */
function resolveRelative(raw: string, relativeTo: string | undefined): ReturnToCheck {
  if (relativeTo === undefined) {
    return { ok: false, reason: 'return_to is a relative path, but the redirect job has no redirect_to to resolve it against' };
  }
  let origin: string;
  try {
    const base = new URL(relativeTo);
    if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new Error('not a web URL');
    origin = base.origin;
  } catch {
    return { ok: false, reason: 'return_to is a relative path, but redirect_to is not an http(s) URL to resolve it against' };
  }
  if (FORBIDDEN_CHARS.test(raw)) return { ok: false, reason: 'return_to contains whitespace, control characters or backslashes' };
  // The URL parser would fold these away; a path written by an honest client has none.
  const path = raw.split(/[?#]/, 1)[0] ?? '';
  if (path.split('/').some((segment) => DOT_SEGMENT.test(segment))) return { ok: false, reason: 'return_to has a "." or ".." segment' };
  // The origin has no path and `raw` starts with one "/", so the authority stays the origin's.
  return { ok: true, url: `${origin}${raw}` };
}

/**
 * Checks one candidate; on success `url` is the re-serialised WHATWG URL (never the raw input).
 * A relative path (`/dashboard`) is made absolute on the origin of `options.relativeTo` first.
 */
export function checkReturnTo(input: string, policy: ReturnToPolicy, options: ReturnToCheckOptions = {}): ReturnToCheck {
  if (PROTOCOL_RELATIVE.test(input)) return { ok: false, reason: 'return_to is a protocol-relative reference (//host)' };
  let raw = input;
  if (RELATIVE_PATH.test(input)) {
    const resolved = resolveRelative(input, options.relativeTo);
    if (!resolved.ok) return resolved;
    raw = resolved.url;
  }
  // Named first so the log says `javascript:` rather than whichever later rule it also breaks.
  const scheme = `${/^([A-Za-z][A-Za-z0-9+.-]*):/.exec(raw)?.[1]?.toLowerCase()}:`;
  if (NEVER_ALLOWED_SCHEMES.has(scheme)) return { ok: false, reason: `return_to uses the forbidden scheme ${scheme}` };
  const parsed = parseRaw(raw);
  if (typeof parsed === 'string') return { ok: false, reason: `return_to ${parsed}` };
  const { url, authority } = parsed;
  if (NEVER_ALLOWED_SCHEMES.has(url.protocol)) return { ok: false, reason: `return_to uses the forbidden scheme ${url.protocol}` };
  if (url.protocol === 'http:' || url.protocol === 'https:') {
    // `https:evil.com` and `https:///evil.com` parse, but only `https://host` is written by honest clients.
    if (authority === undefined || authority === '') return { ok: false, reason: 'return_to must be written as http(s)://host/path' };
    if (!WEB_HOST.test(url.hostname)) return { ok: false, reason: 'return_to has an invalid host' };
  }
  if (!policy.rules.some((rule) => matchesRule(url, rule))) return { ok: false, reason: 'return_to is not in the allow-list' };
  // Emit the parser's serialisation, so what was checked is exactly what the client is sent to.
  const href = url.href;
  if (href.length > MAX_LENGTH) return { ok: false, reason: `return_to is longer than ${MAX_LENGTH} characters` };
  return { ok: true, url: href };
}

/** Reads `return_to` from a query string; more than one occurrence is refused. */
export function returnToFromSearch(search: string): { ok: true; value: string | undefined } | { ok: false; reason: string } {
  // Repeats are refused rather than picking one: proxies and frameworks disagree on first vs last.
  const values = new URLSearchParams(search).getAll('return_to');
  if (values.length > 1) return { ok: false, reason: 'return_to is given more than once' };
  return { ok: true, value: values[0] };
}
