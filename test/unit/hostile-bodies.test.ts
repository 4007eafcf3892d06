import { describe, expect, it } from 'vitest';
import { jsonNestingDepth } from '../../src/middleware/body.ts';
import { appWithFakeKratos } from '../support/app.ts';

const withCookies = { secrets: { session: ['unit-test-session-secret-0123456789abcdef'] } };

/** What `curl -d '<json>'` sends: the JSON under curl's default form Content-Type. */
const curlData = (body: string): RequestInit => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded', accept: '*/*', 'user-agent': 'curl/8.5.0' },
  body,
});

async function problemOf(res: Response) {
  expect(res.headers.get('content-type')).toBe('application/problem+json');
  const text = await res.text();
  return { text, problem: JSON.parse(text) as { status: number; code: string; detail: string; request_id: string; errors: Array<{ pointer: string; code: string; message: string }> } };
}

describe('regression: a password is echoed back in an error (issue 9, defect 3)', () => {
  const login = '{"identifier":"ada@example.com","password":"hunter2-very-secret"}';
  const registration = '{"traits":{"email":"ada@example.com"},"password":"hunter2-very-secret"}';

  it.each([
    ['/v1/login', login, {}],
    ['/v1/login', login, withCookies],
    ['/v1/registration', registration, {}],
    ['/v1/registration', registration, withCookies],
  ])('curl -d <JSON> %s: 415 that says the body is JSON, without the password or any of the body', async (path, data, config) => {
    const { app, fake, logs } = appWithFakeKratos(config);
    const res = await app.request(path, curlData(data));
    expect(res.status).toBe(415);
    const { text, problem } = await problemOf(res);
    expect(problem).toMatchObject({
      status: 415,
      code: 'UNSUPPORTED_MEDIA_TYPE',
      detail: 'The body is JSON but Content-Type says application/x-www-form-urlencoded; send Content-Type: application/json.',
      errors: [],
    });
    expect(text).not.toMatch(/hunter2|ada@|identifier|traits/);
    expect(logs.join('\n')).not.toContain('hunter2');
    expect(fake.requests).toEqual([]);
  });

  it('recognises JSON that was URL-encoded under the form type, and JSON under multipart', async () => {
    const { app } = appWithFakeKratos(withCookies);
    const encoded = await app.request('/v1/login', curlData(encodeURIComponent(login)));
    expect(encoded.status).toBe(415);
    expect(await encoded.text()).not.toContain('hunter2');
    const multipart = await app.request('/v1/login', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: ` \r\n${login}` });
    expect(multipart.status).toBe(415);
    expect((await problemOf(multipart)).problem.detail).toContain('Content-Type says multipart/form-data');
  });

  it('reports an unknown JSON key at its parent, without its name', async () => {
    const { app } = appWithFakeKratos();
    const res = await app.request('/v1/login', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ identifier: 'ada@example.com', password: 'p', 'hunter2-very-secret': 1, 'also.hunter2': 2 }),
    });
    const { text, problem } = await problemOf(res);
    expect(problem.errors).toEqual([{ pointer: '', code: 'UNKNOWN_FIELD', message: 'contains 2 properties that are not allowed' }]);
    expect(text).not.toContain('hunter2');
  });

  it.each([
    ['a very long name', `${'n'.repeat(5000)}hunter2=1`],
    ['a name with JSON in it', `x=1&${encodeURIComponent('{"password":"hunter2"}')}=1&{"password":"hunter2"}=2`],
    ['brackets', 'hunter2[]=1&a[hunter2]=2&traits[email]=hunter2'],
    ['__proto__', '__proto__.hunter2=1&__proto__=hunter2&traits.__proto__.polluted=hunter2'],
    ['constructor', 'constructor.prototype.hunter2=1&constructor=hunter2'],
    ['empty and dotted names', '=hunter2&.=1&..hunter2=1&traits..hunter2=1'],
    ['a name under a declared one', 'fields.company.hunter2=1&password.hunter2=1&traits.email.hunter2=x'],
  ])('hostile form field names (%s) are a 400 without an echo, never a 500', async (_name, form) => {
    const { app } = appWithFakeKratos({ ...withCookies, registration: { fields: { company: { type: 'string', required: true } } } });
    for (const path of ['/v1/registration', '/v1/login']) {
      const res = await app.request(path, curlData(`${form}&password=p`));
      expect(res.status, path).toBe(400);
      const { text, problem } = await problemOf(res);
      expect(problem.code).toBe('VALIDATION_FAILED');
      expect(text).not.toContain('hunter2');
    }
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });
});

describe('regression: a malformed multipart or form body gives 500 (issue 9, defect 4)', () => {
  it("curl -H 'Content-Type: multipart/form-data; boundary=x' --data-binary junk /v1/registration: 400 INVALID_BODY", async () => {
    const { app, fake } = appWithFakeKratos();
    const res = await app.request('/v1/registration', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: 'junk' });
    expect(res.status).toBe(400);
    const { problem } = await problemOf(res);
    expect(problem).toMatchObject({ status: 400, code: 'INVALID_BODY', detail: 'The request body could not be parsed as multipart/form-data.', errors: [] });
    expect(problem.request_id).toBe(res.headers.get('x-request-id'));
    expect(fake.requests).toEqual([]);
  });

  const latin1 = new TextEncoder().encode('{"traits":{"email":"ren\u0001@example.com"},"password":"p"}');
  latin1[latin1.indexOf(1)] = 0xe9; // "é" in ISO-8859-1: not UTF-8
  const utf16 = new Uint8Array([0xff, 0xfe, ...Array.from('{"password":"p"}', (ch) => [ch.charCodeAt(0), 0]).flat()]);
  const deep = (n: number) => `{"traits":{"email":"a@example.com","x":${'['.repeat(n)}${']'.repeat(n)}},"password":"p"}`;

  const row = (name: string, path: string, contentType: string, body: string | Uint8Array<ArrayBuffer>, status: number, code: string) => ({ name, path, contentType, body, status, code });
  it.each([
    row('junk multipart on login', '/v1/login', 'multipart/form-data; boundary=x', 'junk', 400, 'INVALID_BODY'),
    row('multipart without a boundary', '/v1/registration', 'multipart/form-data', '--x\r\n\r\n', 400, 'INVALID_BODY'),
    row('multipart with an empty boundary', '/v1/login', 'multipart/form-data; boundary=', 'junk', 400, 'INVALID_BODY'),
    row('a truncated multipart body', '/v1/registration', 'multipart/form-data; boundary=x', '--x\r\nContent-Disposition: form-data; name="password"\r\n\r\np', 400, 'INVALID_BODY'),
    row('form names nested 40 deep', '/v1/registration', 'application/x-www-form-urlencoded', `${'a.'.repeat(40)}b=1`, 400, 'INVALID_BODY'),
    row('JSON nested 12000 deep (it overflowed JSON.stringify)', '/v1/registration', 'application/json', deep(12_000), 400, 'INVALID_BODY'),
    row('JSON nested 33 deep', '/v1/registration', 'application/json', deep(31), 400, 'INVALID_BODY'),
    row('ISO-8859-1 bytes under a charset parameter', '/v1/registration', 'application/json; charset=iso-8859-1', latin1, 400, 'INVALID_JSON'),
    row('UTF-16', '/v1/login', 'application/json; charset=utf-16', utf16, 400, 'INVALID_JSON'),
    row('an empty JSON body', '/v1/login', 'application/json', '', 400, 'INVALID_JSON'),
    row('garbage as JSON', '/v1/registration', 'application/json', 'garbage', 400, 'INVALID_JSON'),
    row('JSON with trailing garbage', '/v1/login', 'application/json', '{"identifier":"a","password":"b"}}', 400, 'INVALID_JSON'),
    row('text/plain', '/v1/login', 'text/plain', 'identifier=a', 415, 'UNSUPPORTED_MEDIA_TYPE'),
    row('application/xml', '/v1/registration', 'application/xml', '<a/>', 415, 'UNSUPPORTED_MEDIA_TYPE'),
    row('a JSON type with a broken parameter list', '/v1/login', 'application/json;;', '{}', 415, 'UNSUPPORTED_MEDIA_TYPE'),
    row('multipart/mixed', '/v1/registration', 'multipart/mixed; boundary=x', '--x--', 415, 'UNSUPPORTED_MEDIA_TYPE'),
  ])('$name on $path: $status $code', async ({ path, contentType, body, status, code }) => {
    const { app, fake } = appWithFakeKratos(withCookies);
    const res = await app.request(path, { method: 'POST', headers: { 'content-type': contentType }, body });
    expect(res.status).toBe(status);
    const { problem } = await problemOf(res);
    expect(problem).toMatchObject({ status, code });
    expect(fake.requests).toEqual([]);
  });

  it('names a missing Content-Type in the 415', async () => {
    const { app } = appWithFakeKratos();
    const res = await app.request('/v1/login', { method: 'POST', body: new TextEncoder().encode('{"identifier":"a","password":"b"}') });
    expect(res.status).toBe(415);
    expect((await problemOf(res)).problem.detail).toBe('The request has a body but no Content-Type; send Content-Type: application/json.');
  });

  it('still accepts what is merely unusual: a BOM, a charset parameter, a +json type, 32 levels', async () => {
    const body = '{"traits":{"email":"ada@example.com"},"password":"correct-horse-battery"}';
    for (const [contentType, text] of [
      ['application/json', `\ufeff${body}`],
      ['application/json; charset=UTF-8', body],
      ['application/json; charset=iso-8859-1', body],
      ['application/vnd.api+json', body],
      ['application/json', deep(30)],
    ] as const) {
      const { app } = appWithFakeKratos();
      const res = await app.request('/v1/registration', { method: 'POST', headers: { 'content-type': contentType }, body: text });
      expect(res.status, contentType).toBe(200);
    }
  });

  it('does not read the body of a route that takes none', async () => {
    const { app } = appWithFakeKratos();
    const res = await app.request('/v1/nope', { method: 'POST', headers: { 'content-type': 'multipart/form-data; boundary=x' }, body: 'junk' });
    expect(res.status).toBe(404);
  });
});

describe('jsonNestingDepth', () => {
  it.each([
    ['1', 0],
    ['{}', 1],
    ['{"a":[{"b":[]}]}', 4],
    ['{"a":"[[[[{{{{"}', 1],
    ['{"a":"\\"[[["}', 1],
    ['[[],[],[[]]]', 3],
  ])('%s → %i', (text, depth) => {
    expect(jsonNestingDepth(text)).toBe(depth);
  });

  it('stops counting past the limit', () => {
    expect(jsonNestingDepth('['.repeat(100_000), 32)).toBe(33);
  });
});
