import { describe, expect, it } from 'vitest';
import { checkReturnTo, compileReturnToPolicy, returnToConfigSchema, returnToFromSearch } from '../../src/after-jobs/return-to.ts';

const policy = compileReturnToPolicy(
  returnToConfigSchema.parse({
    allowed_urls: ['https://app.example.com/app', 'https://*.example.org', 'https://admin.example.net:8443/console/', 'http://127.0.0.1:3000'],
    native_urls: ['myapp://callback', 'exp+app://auth/done', 'com.example.app:/oauth2redirect'],
  }),
);

const check = (raw: string) => checkReturnTo(raw, policy);

describe('checkReturnTo: allowed', () => {
  it.each([
    ['exact origin and prefix', 'https://app.example.com/app', 'https://app.example.com/app'],
    ['trailing slash', 'https://app.example.com/app/', 'https://app.example.com/app/'],
    ['path below the prefix', 'https://app.example.com/app/settings/profile', 'https://app.example.com/app/settings/profile'],
    ['query and fragment kept', 'https://app.example.com/app/x?next=%2Fhome&a=1#top', 'https://app.example.com/app/x?next=%2Fhome&a=1#top'],
    ['subdomain under a wildcard', 'https://shop.example.org/cart', 'https://shop.example.org/cart'],
    ['deeper subdomain under a wildcard', 'https://a.b.example.org', 'https://a.b.example.org/'],
    ['explicit non-default port', 'https://admin.example.net:8443/console/users', 'https://admin.example.net:8443/console/users'],
    ['pattern with trailing slash still covers its own path', 'https://admin.example.net:8443/console', 'https://admin.example.net:8443/console'],
    ['http with port for local development', 'http://127.0.0.1:3000/anything', 'http://127.0.0.1:3000/anything'],
    ['native deep link', 'myapp://callback', 'myapp://callback'],
    ['native deep link with path and query', 'myapp://callback/done?code=abc', 'myapp://callback/done?code=abc'],
    ['native scheme with "+"', 'exp+app://auth/done/x', 'exp+app://auth/done/x'],
    ['native reverse-domain scheme without host', 'com.example.app:/oauth2redirect?state=1', 'com.example.app:/oauth2redirect?state=1'],
  ])('%s: %s', (_name, raw, expected) => {
    expect(check(raw)).toEqual({ ok: true, url: expected });
  });

  it('answers with the re-serialised URL, never the raw input', () => {
    // Case, default port and dot segments are normalised; what was checked is what is emitted.
    expect(check('HTTPS://APP.Example.COM:443/app/./x/../y?q=1')).toEqual({ ok: true, url: 'https://app.example.com/app/y?q=1' });
    expect(check('https://app.example.com/app/é')).toEqual({ ok: true, url: 'https://app.example.com/app/%C3%A9' });
    // IDNA maps full-width letters to ASCII; the answer is the ASCII host the parser compared.
    expect(check('https://ａｐｐ.example.com/app')).toEqual({ ok: true, url: 'https://app.example.com/app' });
  });
});

describe('checkReturnTo: hostile inputs', () => {
  const hostile: [string, string][] = [
    // empty, relative and protocol-relative
    ['empty', ''],
    ['relative path', '/dashboard'],
    ['relative name', 'dashboard'],
    ['protocol-relative', '//evil.com'],
    ['triple slash', '///evil.com'],
    ['backslash protocol-relative', '\\/evil.com'],
    ['slash backslash', '/\\evil.com'],
    ['scheme without slashes', 'https:evil.com'],
    ['scheme without slashes to an allowed host', 'https:app.example.com/app'],
    ['scheme with one slash', 'https:/app.example.com/app'],
    ['scheme with three slashes', 'https:///app.example.com/app'],
    // credentials
    ['allowed host as userinfo', 'https://app.example.com@evil.com'],
    ['user and password', 'https://user:pass@app.example.com/app'],
    ['user only', 'https://user@app.example.com/app'],
    ['empty userinfo', 'https://@app.example.com/app'],
    ['native userinfo', 'myapp://callback@evil'],
    // host suffix and prefix tricks
    ['allowed host as prefix', 'https://app.example.com.evil.com/app'],
    ['allowed host as suffix', 'https://evilapp.example.com/app'],
    ['sibling subdomain', 'https://www.example.com/app'],
    ['wildcard apex', 'https://example.org/'],
    ['wildcard lookalike', 'https://evilexample.org/'],
    ['wildcard suffix as prefix', 'https://example.org.evil.com/'],
    ['trailing-dot host', 'https://app.example.com./app'],
    ['literal "*" host', 'https://*.example.org/'],
    // encodings
    ['encoded dot segment', 'https://app.example.com/app/%2e%2e/admin'],
    ['mixed encoded dot segment', 'https://app.example.com/app/.%2E/admin'],
    ['encoded slash', 'https://app.example.com/app/..%2fadmin'],
    ['upper-case encoded slash', 'https://app.example.com/app%2F..%2Fadmin'],
    ['encoded backslash', 'https://app.example.com/app/..%5cadmin'],
    ['double-encoded dots', 'https://app.example.com/app/%252e%252e/admin'],
    ['encoded NUL in the path', 'https://app.example.com/app/%00'],
    ['encoded CRLF in the path', 'https://app.example.com/app/%0d%0aSet-Cookie:x'],
    ['percent-encoded host dot', 'https://app%2eexample.com/app'],
    ['percent-encoded wildcard host', 'https://x%2eexample.org/'],
    // schemes
    ['javascript', 'javascript:alert(1)'],
    ['mixed-case javascript', 'JaVaScRiPt:alert(1)'],
    ['javascript with a fake authority', 'javascript://app.example.com/app%0aalert(1)'],
    ['data', 'data:text/html,<script>alert(1)</script>'],
    ['vbscript', 'vbscript:msgbox(1)'],
    ['file', 'file:///etc/passwd'],
    ['blob', 'blob:https://app.example.com/0b8c2b5e'],
    ['intent', 'intent://callback#Intent;scheme=myapp;end'],
    ['http when only https is allowed', 'http://app.example.com/app'],
    ['ftp', 'ftp://app.example.com/app'],
    ['wss', 'wss://app.example.com/app'],
    ['unlisted native scheme', 'otherapp://callback'],
    ['native wrong host', 'myapp://evil'],
    ['native host prefix', 'myapp://callbackx'],
    ['native host case', 'myapp://CALLBACK'],
    ['native path prefix on a non-boundary', 'exp+app://auth/doneX'],
    ['native opaque path', 'com.example.app:oauth2redirect'],
    ['native with a host instead of none', 'com.example.app://evil/oauth2redirect'],
    // paths
    ['dot segments out of the prefix', 'https://app.example.com/app/../admin'],
    ['prefix without a segment boundary', 'https://app.example.com/apple'],
    ['outside the prefix', 'https://app.example.com/'],
    ['semicolon dot segment', 'https://app.example.com/app/..;/admin'],
    ['empty segment', 'https://app.example.com/app//evil.com'],
    // control characters and whitespace (URL would strip tab/newline silently)
    ['tab', 'https://app.example.com/app/\t'],
    ['newline', 'https://app.example.com/app/\n'],
    ['newline in the host', 'https://app.exa\nmple.com/app'],
    ['carriage return', 'https://app.example.com/app\r'],
    ['leading space', ' https://app.example.com/app'],
    ['trailing space', 'https://app.example.com/app '],
    ['NUL', 'https://app.example.com/app\u0000'],
    ['DEL', 'https://app.example.com/app\u007f'],
    ['no-break space', 'https://app.example.com/app/\u00a0'],
    ['line separator', 'https://app.example.com/app/\u2028'],
    // backslashes
    ['backslashes after the scheme', 'https:\\\\evil.com'],
    ['backslash before userinfo', 'https://app.example.com\\@evil.com'],
    ['backslash in the path', 'https://app.example.com/app\\..\\admin'],
    // ports
    ['wrong port', 'https://app.example.com:8443/app'],
    ['port where the pattern has the default', 'https://app.example.com:444/app'],
    ['default port where the pattern has one', 'https://admin.example.net/console'],
    ['other port on the local pattern', 'http://127.0.0.1:3001/'],
    // IP forms
    ['IPv4', 'https://127.0.0.1/app'],
    ['integer IPv4', 'http://2130706433:3001/'],
    ['hex IPv4', 'https://0x7f.1/app'],
    ['IPv6 loopback', 'https://[::1]/app'],
    ['IPv4-mapped IPv6', 'http://[::ffff:127.0.0.1]:3000/'],
    // unicode homoglyphs
    ['Cyrillic a in the host', 'https://\u0430pp.example.com/app'],
    ['Cyrillic a in the domain', 'https://app.ex\u0430mple.com/app'],
    ['Greek omicron under a wildcard suffix', 'https://shop.example.\u03bfrg/'],
    // size
    ['overlong', `https://app.example.com/app/${'a'.repeat(2048)}`],
  ];

  it('has a large table', () => {
    expect(hostile.length).toBeGreaterThanOrEqual(40);
  });

  it.each(hostile)('refuses %s: %j', (_name, raw) => {
    const result = check(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^return_to /);
  });

  it.each(['javascript:alert(1)', 'JaVaScRiPt:alert(1)', 'data:text/html,x', 'vbscript:x', 'file:///etc/passwd', 'blob:https://app.example.com/x', 'about:blank'])(
    'names the forbidden scheme of %j',
    (raw) => {
      expect(check(raw)).toEqual({ ok: false, reason: expect.stringMatching(/^return_to uses the forbidden scheme [a-z]+:$/) });
    },
  );

  it('refuses everything when nothing is configured', () => {
    const empty = compileReturnToPolicy(returnToConfigSchema.parse({}));
    expect(checkReturnTo('https://app.example.com/app', empty)).toMatchObject({ ok: false });
  });

  it('explains the refusal', () => {
    expect(check('//evil.com')).toEqual({ ok: false, reason: 'return_to is a protocol-relative reference (//host)' });
    expect(check('dashboard')).toEqual({ ok: false, reason: 'return_to is not an absolute URL' });
    expect(check('/dashboard')).toEqual({ ok: false, reason: 'return_to is a relative path, but the redirect job has no redirect_to to resolve it against' });
    expect(check('https://user@app.example.com/app')).toEqual({ ok: false, reason: 'return_to contains credentials' });
    expect(check('javascript:alert(1)')).toEqual({ ok: false, reason: 'return_to uses the forbidden scheme javascript:' });
    expect(check('https://evil.com/')).toEqual({ ok: false, reason: 'return_to is not in the allow-list' });
  });
});

describe('checkReturnTo: relative paths', () => {
  // As Kratos does: a relative return_to lands on the origin of the redirect job's redirect_to.
  const relativeTo = 'https://app.example.com/app/welcome?from=config#x';
  const relative = (raw: string, base: string | undefined = relativeTo) => checkReturnTo(raw, policy, { relativeTo: base });

  it.each([
    ['a path under the allowed prefix', '/app/dashboard', 'https://app.example.com/app/dashboard'],
    ['the prefix itself', '/app', 'https://app.example.com/app'],
    ['query and fragment kept', '/app/x?tab=1&b=%2F#top', 'https://app.example.com/app/x?tab=1&b=%2F#top'],
    ['"@" in the path stays a path', '/app/@evil.com', 'https://app.example.com/app/@evil.com'],
    ['":" in the path stays a path', '/app/https:evil.com', 'https://app.example.com/app/https:evil.com'],
    ['non-ASCII is percent-encoded', '/app/é', 'https://app.example.com/app/%C3%A9'],
  ])('resolves %s: %j', (_name, raw, expected) => {
    expect(relative(raw)).toEqual({ ok: true, url: expected });
  });

  it('uses only the origin of redirect_to (scheme, host, port), never its path or query', () => {
    expect(relative('/console/users', 'https://admin.example.net:8443/elsewhere?q=1')).toEqual({ ok: true, url: 'https://admin.example.net:8443/console/users' });
    expect(relative('/', 'http://127.0.0.1:3000/after-signup')).toEqual({ ok: true, url: 'http://127.0.0.1:3000/' });
  });

  it('applies the allow-list to the resolved URL unchanged', () => {
    expect(relative('/dashboard')).toEqual({ ok: false, reason: 'return_to is not in the allow-list' });
    expect(relative('/apple')).toEqual({ ok: false, reason: 'return_to is not in the allow-list' });
    expect(relative('/')).toEqual({ ok: false, reason: 'return_to is not in the allow-list' });
    // redirect_to itself need not be allowed, but nothing is allowed through it either.
    expect(relative('/app', 'https://evil.com/')).toEqual({ ok: false, reason: 'return_to is not in the allow-list' });
  });

  it('refuses a relative path when there is no http(s) redirect_to to resolve it against', () => {
    expect(checkReturnTo('/app', policy, { relativeTo: undefined })).toEqual({ ok: false, reason: 'return_to is a relative path, but the redirect job has no redirect_to to resolve it against' });
    expect(checkReturnTo('/app', policy)).toEqual({ ok: false, reason: 'return_to is a relative path, but the redirect job has no redirect_to to resolve it against' });
    expect(relative('/app', 'myapp://callback')).toEqual({ ok: false, reason: 'return_to is a relative path, but redirect_to is not an http(s) URL to resolve it against' });
  });

  const hostile: [string, string][] = [
    ['protocol-relative', '//evil.com'],
    ['protocol-relative to the allowed host', '//app.example.com/app'],
    ['triple slash', '///evil.com'],
    ['slash backslash', '/\\evil.com'],
    ['backslash slash', '\\/evil.com'],
    ['two backslashes', '\\\\evil.com'],
    ['one backslash', '\\app'],
    ['backslash later in the path', '/app\\..\\evil'],
    ['tab between the slashes', '/\t/evil.com'],
    ['newline between the slashes', '/\n/evil.com'],
    ['NUL after the slash', '/\u0000/evil.com'],
    ['space between the slashes', '/ /evil'],
    ['leading space', ' /app'],
    ['trailing space', '/app '],
    ['no-break space', '/app/\u00a0'],
    ['dot-dot then empty segment', '/..//evil.com'],
    ['dot-dot out of the prefix', '/app/../admin'],
    ['dot-dot at the end', '/app/..'],
    ['single dot', '/./app'],
    ['semicolon dot-dot', '/app/..;/admin'],
    ['encoded slashes', '/%2F%2Fevil.com'],
    ['lower-case encoded slashes', '/%2f%2fevil.com'],
    ['encoded backslash', '/%5cevil.com'],
    ['upper-case encoded backslash', '/%5C%5Cevil.com'],
    ['half-encoded dot-dot', '/.%2e/'],
    ['encoded dot-dot', '/app/%2e%2e/admin'],
    ['double-encoded slash', '/%252f%252fevil.com'],
    ['encoded CRLF', '/app/%0d%0aSet-Cookie:x'],
    ['empty segment inside', '/app//evil.com'],
    ['overlong once resolved', `/app/${'a'.repeat(2040)}`],
    ['relative name', 'app/dashboard'],
    ['dot-relative', './app'],
    ['query only', '?next=/app'],
    ['fragment only', '#/app'],
  ];

  it.each(hostile)('refuses %s: %j', (_name, raw) => {
    const result = relative(raw);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.reason).toMatch(/^return_to /);
  });

  it('says why the hostile relative forms are refused', () => {
    expect(relative('//evil.com')).toEqual({ ok: false, reason: 'return_to is a protocol-relative reference (//host)' });
    expect(relative('/\\evil.com')).toEqual({ ok: false, reason: 'return_to is a protocol-relative reference (//host)' });
    expect(relative('/\t/evil.com')).toEqual({ ok: false, reason: 'return_to contains whitespace, control characters or backslashes' });
    expect(relative('/..//evil.com')).toEqual({ ok: false, reason: 'return_to has a "." or ".." segment' });
    expect(relative('/%2F%2Fevil.com')).toEqual({ ok: false, reason: 'return_to has an encoded ".", "/", "\\", "%" or control character in its path' });
  });
});

describe('returnToFromSearch', () => {
  it.each([
    ['', undefined],
    ['?a=1', undefined],
    ['?return_to=https://app.example.com/app', 'https://app.example.com/app'],
    ['return_to=https://app.example.com/app', 'https://app.example.com/app'],
    ['?a=1&return_to=https%3A%2F%2Fapp.example.com%2Fapp%3Fx%3D1%26y%3D2', 'https://app.example.com/app?x=1&y=2'],
    ['?return_to=', ''],
  ])('%j → %j', (search, value) => {
    expect(returnToFromSearch(search)).toEqual({ ok: true, value });
  });

  it.each([
    '?return_to=https://app.example.com/app&return_to=https://evil.com',
    '?return_to=a&return_to=a',
    // An encoded key is the same parameter once decoded.
    '?return_to=https://app.example.com/app&return%5Fto=https://evil.com',
  ])('refuses repeats: %j', (search) => {
    expect(returnToFromSearch(search)).toEqual({ ok: false, reason: 'return_to is given more than once' });
  });

  it('decodes "+" to a space, which the check then refuses', () => {
    const read = returnToFromSearch('?return_to=https://app.example.com/app+x');
    expect(read).toEqual({ ok: true, value: 'https://app.example.com/app x' });
    expect(check('https://app.example.com/app x').ok).toBe(false);
  });
});

describe('returnToConfigSchema', () => {
  const messages = (input: unknown) => {
    const result = returnToConfigSchema.safeParse(input);
    return result.success ? [] : result.error.issues.map((i) => i.message);
  };

  it('defaults to empty lists', () => {
    expect(returnToConfigSchema.parse({})).toEqual({ allowed_urls: [], native_urls: [] });
  });

  it('refuses unknown keys', () => {
    expect(returnToConfigSchema.safeParse({ allowed_url: [] }).success).toBe(false);
  });

  it.each([
    ['*', /not an absolute URL/],
    ['https://*', /wildcard/],
    ['https://*.com', /at least two labels/],
    ['https://*.com/app', /at least two labels/],
    ['https://a*.example.com', /wildcard/],
    ['https://app.*.example.com', /wildcard/],
    ['https://*.*.example.com', /wildcard/],
    ['https://example.com/app*', /wildcard/],
    ['https://%2a.example.com', /percent-encoded host/],
    ['example.com', /not an absolute URL/],
    ['//example.com', /not an absolute URL/],
    ['https:example.com', /http\(s\):\/\/host\/path/],
    ['ftp://example.com', /http\(s\) URL/],
    ['myapp://callback', /http\(s\) URL/],
    ['https://user:pw@example.com', /credentials/],
    ['https://example.com/?a=1', /query or fragment/],
    ['https://example.com/#x', /query or fragment/],
    ['https://example.com/app/%2e%2e', /encoded/],
    ['https://example.com. /app', /whitespace/],
    ['https://example.com./app', /invalid host/],
  ])('refuses web pattern %j', (pattern, message) => {
    const found = messages({ allowed_urls: [pattern] });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
    expect(found[0]).toContain(`"${pattern}"`);
  });

  it.each([
    ['https://app.example.com', /app's own scheme/],
    ['javascript:alert(1)', /app's own scheme/],
    ['JAVASCRIPT://x', /app's own scheme/],
    ['data:text/plain,x', /app's own scheme/],
    ['file:///x', /app's own scheme/],
    ['myapp://*.callback', /wildcards/],
    ['myapp://callback?x=1', /query or fragment/],
    ['myapp:callback', /scheme:\/\/host\/path/],
    ['myapp://u@callback', /credentials/],
    ['callback', /not an absolute URL/],
  ])('refuses native pattern %j', (pattern, message) => {
    const found = messages({ native_urls: [pattern] });
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('accepts good patterns', () => {
    expect(
      messages({
        allowed_urls: ['https://app.example.com', 'https://*.example.com/app', 'http://localhost:3000/', 'https://[::1]:8443', 'https://*.bücher.example'],
        native_urls: ['myapp://callback', 'exp+app://auth', 'com.example.app:/oauth2redirect'],
      }),
    ).toEqual([]);
  });

  it('matches a native pattern with a port on scheme, host and port', () => {
    const native = compileReturnToPolicy(returnToConfigSchema.parse({ native_urls: ['myapp://callback:7000/cb'] }));
    expect(checkReturnTo('myapp://callback:7000/cb/x', native)).toEqual({ ok: true, url: 'myapp://callback:7000/cb/x' });
    expect(checkReturnTo('myapp://callback/cb', native).ok).toBe(false);
    expect(checkReturnTo('myapp://callback:7001/cb', native).ok).toBe(false);
  });

  it('compiling an unvalidated bad pattern throws', () => {
    expect(() => compileReturnToPolicy({ allowed_urls: ['https://*.com'], native_urls: [] })).toThrow(/"https:\/\/\*\.com"/);
  });
});
