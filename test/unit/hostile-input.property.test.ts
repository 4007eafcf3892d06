import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createApp } from '../../src/app.ts';
import { parseConfig } from '../../src/config.ts';
import { errorCodes } from '../../src/errors.ts';
import type { HttpRequest, HttpResponse, HttpTransport } from '../../src/shared/http.ts';
import { createKratosClient } from '../../src/kratos/client.ts';
import { createLogger } from '../../src/shared/log.ts';
import { createSessionCookies } from '../../src/session/cookie.ts';
import { createFakeKratos, fixture } from '../support/fake-kratos.ts';

/**
 * Property: whatever a client sends to any public route (method, body, content type, headers,
 * query), the gateway answers without a 5xx, every error is problem+json, and no answer carries
 * a secret the client put anywhere in the request (issue 9: "nothing a client sent is ever
 * echoed in an error"; "every unparseable body is a 4xx").
 *
 * The fake Kratos answers normally, and like the real one it echoes submitted values in its
 * validation messages (`"<email>" is not valid "email"`, `additionalProperties "<key>" not
 * allowed`), so the test also covers how the gateway passes Kratos messages on.
 */

const SESSION_SECRET = 'property-test-session-secret-0123456789';
const GOOD_PASSWORD = 'correct-horse-battery';
const TRAIT_KEYS = new Set(['email', 'name', 'company', 'newsletter']);

const config = parseConfig({
  kratos: { public_url: 'http://kratos.test', admin_url: 'http://kratos-admin.test' },
  registration: {
    fields: {
      company: { type: 'string', required: true, min_length: 2 },
      accept_terms: { type: 'boolean', const: true, required: true },
      plan: { type: 'enum', values: ['free', 'pro'] },
      seats: { type: 'number', integer: true, min: 1, max: 500 },
      founded: { type: 'date', max: '2026-01-01' },
      vat_id: { type: 'string', pattern: '^[A-Z]{2}[0-9A-Z]{2,12}$', target: 'transient_payload' },
    },
  },
  secrets: { session: [SESSION_SECRET] },
  session: { client_choice: true },
  cors: { allowed_origins: ['https://app.example.com'] },
  return_to: { allowed_urls: ['https://app.example.com/'] },
  selfservice: {
    registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: 'https://app.example.com/welcome', allow_user_defined: true } }] } },
    login: {
      after: { password: [{ job: 'session' }, { job: 'revoke_active_sessions' }, { job: 'redirect', config: { redirect_to: 'https://app.example.com/', allow_user_defined: true } }] },
    },
  },
});

const reply = (status: number, body?: unknown): HttpResponse => ({
  status,
  headers: body === undefined ? {} : { 'content-type': 'application/json' },
  body: body === undefined ? '' : JSON.stringify(body),
});

/** A Kratos flow error whose one message echoes submitted data, as Kratos v1.3.1 does. */
function flowError(name: string, fixtureName: string, text: string): HttpResponse {
  const flow = fixture(fixtureName) as { ui: { nodes: Array<{ attributes: { name?: string }; messages: unknown[] }> } };
  for (const node of flow.ui.nodes) {
    if (node.attributes.name === name) node.messages = [{ id: 4000001, text, type: 'error', context: { reason: text } }];
  }
  return reply(400, flow);
}

/**
 * The shared fake Kratos (registration, admin, health) plus the login and session endpoints,
 * with answers in the shape the gateway's Kratos client reads.
 */
function kratosTransport(): HttpTransport {
  const fake = createFakeKratos();
  const session = (fixture('registration-success') as { session: unknown }).session;
  return async (req: HttpRequest) => {
    const path = req.path.split('?')[0];
    if (req.method === 'POST' && path === '/self-service/registration') {
      const traits = (JSON.parse(req.body ?? '{}') as { traits?: Record<string, unknown> }).traits ?? {};
      const unknown = Object.keys(traits).find((k) => !TRAIT_KEYS.has(k));
      if (unknown !== undefined) return flowError('traits', 'registration-unknown-trait', `additionalProperties "${unknown}" not allowed`);
      if (typeof traits.email !== 'string' || !/^[^@\s]+@[^@\s]+\.[a-z]+$/.test(traits.email)) {
        return flowError('traits.email', 'registration-bad-email', `"${String(traits.email)}" is not valid "email"`);
      }
    }
    if (req.method === 'GET' && path === '/self-service/login/api') return reply(200, { id: '00000000-0000-4000-8000-00000000aaaa', type: 'api', ui: { nodes: [] } });
    if (req.method === 'POST' && path === '/self-service/login') {
      const { password } = JSON.parse(req.body ?? '{}') as { password?: string };
      if (password === GOOD_PASSWORD) return reply(200, { session, session_token: 'ory_st_propertytestloginsessiontoken' });
      return reply(400, { id: 'x', type: 'api', ui: { nodes: [], messages: [{ id: 4000006, text: 'The provided credentials are invalid.', type: 'error' }] } });
    }
    if (req.method === 'GET' && path === '/sessions/whoami') {
      return req.headers['x-session-token'] === 'ory_st_propertytestvalidtoken' ? reply(200, session) : reply(401, { error: { code: 401, status: 'Unauthorized' } });
    }
    if (req.method === 'DELETE' && path === '/self-service/logout/api') return reply(204);
    if (req.method === 'DELETE' && path === '/sessions') return reply(200, { count: 0 });
    return fake.transport(req);
  };
}

const logs: string[] = [];
const transport = kratosTransport();
const app = createApp({
  config,
  kratos: createKratosClient({ publicUrl: config.kratos.public_url, adminUrl: config.kratos.admin_url, transport, timeoutMs: 1000, identifierPointer: '/traits/email' }),
  logger: createLogger({ level: 'debug', sink: (l) => logs.push(l) }),
  transport,
});
const validCookie = await createSessionCookies([SESSION_SECRET])!.seal('ory_st_propertytestvalidtoken', Date.now() + 3_600_000);

// ---- generators ---------------------------------------------------------------------------

/** A distinctive secret per run: it must not come back in any answer or log line. */
const secretArb = fc.stringMatching(/^[a-z0-9]{12}$/).map((s) => `S3cr3t-${s}`);

/** Printable ASCII that a header value may carry. */
const headerText = fc.string({ unit: fc.integer({ min: 0x20, max: 0x7e }).map((n) => String.fromCharCode(n)), maxLength: 40 });

/** Names a client might use for a JSON key or a form field, many with the secret in them. */
const hostileName = (s: string) =>
  fc.oneof(
    fc.constantFrom(
      s, `x${s}`, `${s}.x`, `.${s}`, `${s}.`, `traits.${s}`, `fields.${s}`, `traits.${s}.x`, `traits..${s}`, `fields.company.${s}`, `password.${s}`,
      `traits.email.${s}`, `__proto__.${s}`, `__proto__`, `constructor`, `constructor.prototype.${s}`, `prototype`, `toString`, `hasOwnProperty`,
      `${s}[]`, `a[${s}]`, `{"password":"${s}"}`, `["${s}"]`, `${'a.'.repeat(40)}${s}`, `${s}${'x'.repeat(300)}`, `${s}@example.com`, `ä${s}`, '', '.', '..',
      'traits', 'fields', 'password', 'identifier', 'traits.email', 'traits.name.first', 'fields.company', 'fields.accept_terms', 'fields.seats',
    ),
    fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 8 })).map(([a, b]) => `${a}${s}${b}`),
  );

const hostileValue = (s: string) =>
  fc.oneof(
    fc.constantFrom(s, `${s}@example.com`, 'ada@example.com', GOOD_PASSWORD, 'on', 'true', 'AB', '12', '2001-02-03', 'pro', `"${s}"`, `{"a":"${s}"}`),
    fc.string({ maxLength: 20 }).map((t) => `${t}${s}`),
  );

const jsonValue = (s: string) => fc.oneof({ depthSize: 'small' }, fc.jsonValue({ maxDepth: 3 }), hostileValue(s), fc.constant(s));

type Body = { kind: 'json' | 'form' | 'multipart' | 'bytes' | 'text'; data: string | Uint8Array; contentType: string };

/** Adds `key: value` as a data property ("__proto__" included: plain assignment would set the prototype). */
function withKey(obj: Record<string, unknown>, key: string, value: unknown): Record<string, unknown> {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
  return obj;
}

const extraKeys = (s: string) => fc.array(fc.tuple(hostileName(s), jsonValue(s)), { maxLength: 2 });

/** Mostly-valid bodies for the two routes that take one, so the requests reach Kratos and the after-jobs. */
const emailArb = (s: string) => fc.constantFrom('ada@example.com', 'ada@example.com', `${s}@example.com`, s, `${s}@`, `"${s}"`);

const registrationObject = (s: string) =>
  fc
    .record({
      email: emailArb(s),
      first: fc.option(hostileValue(s)),
      password: fc.constantFrom(s, s, s, ''),
      field: fc.option(fc.constantFrom<[string, unknown]>(['plan', 'pro'], ['plan', s], ['seats', 3], ['seats', s], ['founded', s], ['founded', '2001-02-03'], ['vat_id', s], ['vat_id', 'GB123'])),
      traitExtras: extraKeys(s),
      fieldExtras: fc.option(extraKeys(s), { freq: 2 }),
      topExtras: fc.option(extraKeys(s), { freq: 2 }),
    })
    .map(({ email, first, password, field, traitExtras, fieldExtras, topExtras }) => {
      const traits: Record<string, unknown> = { email, ...(first === null ? {} : { name: { first } }) };
      const fields: Record<string, unknown> = { company: 'Analytical Engines', accept_terms: true, ...(field ? { [field[0]]: field[1] } : {}) };
      // Unknown traits pass the gateway (Kratos's identity schema is the authority) and reach the fake Kratos.
      for (const [k, v] of traitExtras) withKey(traits, k, v);
      for (const [k, v] of fieldExtras ?? []) withKey(fields, k, v);
      const body: Record<string, unknown> = { traits, password, fields };
      for (const [k, v] of topExtras ?? []) withKey(body, k, v);
      return body;
    });

/** A registration Kratos accepts; the secret is the password and may be in the name. */
const validRegistration = (s: string) =>
  fc.constantFrom<Record<string, unknown>>(
    { traits: { email: 'ada@example.com' }, password: s, fields: { company: 'AB', accept_terms: true } },
    { traits: { email: `${s}@example.com`, name: { first: s } }, password: s, fields: { company: s, accept_terms: true, plan: 'pro', seats: 3, vat_id: 'GB123456' } },
  );

const loginObject = (s: string) =>
  fc
    .record({ identifier: emailArb(s), password: fc.constantFrom(s, GOOD_PASSWORD, GOOD_PASSWORD, ''), extras: fc.option(extraKeys(s), { freq: 2 }) })
    .map(({ identifier, password, extras }) => {
      const body: Record<string, unknown> = { identifier, password };
      for (const [k, v] of extras ?? []) withKey(body, k, v);
      return body;
    });

/** `{ traits: { email } }` → `[["traits.email", …]]`, as an HTML form names its fields. */
function flatten(value: unknown, prefix = ''): Array<[string, string]> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === '' ? k : `${prefix}.${k}`));
  }
  return [[prefix, value === true ? 'on' : typeof value === 'string' ? value : JSON.stringify(value) ?? '']];
}

function multipart(pairs: Array<[string, string, boolean?]>, boundary: string, s: string): string {
  const parts = pairs.map(
    ([name, value, file]) => `--${boundary}\r\nContent-Disposition: form-data; name="${name.replaceAll('"', '%22')}"${file ? `; filename="${s}.txt"` : ''}\r\n\r\n${value}\r\n`,
  );
  return `${parts.join('')}--${boundary}--\r\n`;
}

/** A body for `path` (registration, else login), sent as JSON, as a urlencoded form or as multipart. */
const routeBody = (s: string, path: string): fc.Arbitrary<Body> =>
  fc.tuple(path.startsWith('/v1/registration') ? fc.oneof(validRegistration(s), registrationObject(s)) : loginObject(s), fc.constantFrom('json', 'json', 'form', 'multipart')).map(([value, as]): Body => {
    if (as === 'json') return { kind: 'json', data: JSON.stringify(value), contentType: 'application/json' };
    const pairs = flatten(value);
    if (as === 'form') return { kind: 'form', data: new URLSearchParams(pairs).toString(), contentType: 'application/x-www-form-urlencoded' };
    return { kind: 'multipart', data: multipart(pairs, 'b0undary', s), contentType: 'multipart/form-data; boundary=b0undary' };
  });

/** A JSON object shaped like either body, with hostile keys anywhere. */
const jsonObjectBody = (s: string) =>
  fc.tuple(fc.oneof(registrationObject(s), loginObject(s)), extraKeys(s)).map(([body, extras]) => {
    for (const [k, v] of extras) withKey(body, k, v);
    return body;
  });

/** JSON text: a body-shaped object, any JSON value, or nesting deep enough to overflow a recursive serializer. */
const jsonText = (s: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.oneof(jsonObjectBody(s), jsonValue(s)).map((v) => JSON.stringify(v) ?? 'null') },
    { weight: 1, arbitrary: fc.integer({ min: 20, max: 20_000 }).map((n) => `{"traits":{"email":"a@b.example","x":${'['.repeat(n)}${']'.repeat(n)}},"password":"${s}"}`) },
  );

const jsonBody = (s: string): fc.Arbitrary<Body> =>
  fc
    .tuple(jsonText(s), fc.constantFrom('plain', 'bom', 'truncated', 'trailing', 'latin1'), fc.nat())
    .map(([text, variant, cut]) => {
      if (variant === 'bom') return { kind: 'json', data: `\ufeff${text}`, contentType: 'application/json' };
      if (variant === 'truncated') return { kind: 'text', data: text.slice(0, cut % (text.length + 1)), contentType: 'application/json' };
      if (variant === 'trailing') return { kind: 'text', data: `${text}}${s}`, contentType: 'application/json' };
      if (variant === 'latin1') {
        // ISO-8859-1 bytes for "é" (0xE9) are not UTF-8: JSON is always UTF-8 (RFC 8259).
        const bytes = new TextEncoder().encode(`{"password":"${s}","traits":{"email":"r\u0001@x.example"}}`);
        bytes[bytes.indexOf(1)] = 0xe9;
        return { kind: 'bytes', data: bytes, contentType: 'application/json; charset=iso-8859-1' };
      }
      return { kind: 'json', data: text, contentType: 'application/json' };
    });

const formBody = (s: string): fc.Arbitrary<Body> =>
  fc
    .tuple(fc.array(fc.tuple(hostileName(s), hostileValue(s)), { maxLength: 6 }), fc.boolean(), fc.boolean())
    .map(([pairs, encode, withValid]) => {
      const all: Array<[string, string]> = withValid ? [['traits.email', 'ada@example.com'], ['password', s], ['identifier', 'ada@example.com'], ['fields.company', 'AB'], ['fields.accept_terms', 'on'], ...pairs] : pairs;
      const text = all.map(([k, v]) => (encode ? `${encodeURIComponent(k)}=${encodeURIComponent(v)}` : `${k}=${v}`)).join('&');
      return { kind: 'form', data: text, contentType: 'application/x-www-form-urlencoded' };
    });

/** JSON text sent as a form (what `curl -d` and jQuery do by default). */
const jsonAsForm = (s: string): fc.Arbitrary<Body> =>
  fc.tuple(jsonObjectBody(s), fc.constantFrom('application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'application/x-www-form-urlencoded; charset=UTF-8'), fc.boolean()).map(([v, contentType, encoded]) => {
    const text = JSON.stringify({ ...v, password: s });
    return { kind: 'text', data: encoded ? encodeURIComponent(text) : text, contentType };
  });

const multipartBody = (s: string): fc.Arbitrary<Body> =>
  fc
    .tuple(
      fc.array(fc.tuple(hostileName(s), hostileValue(s), fc.boolean()), { maxLength: 4 }),
      fc.constantFrom('right', 'quoted', 'other', 'missing', 'empty'),
      fc.nat(),
      fc.boolean(),
    )
    .map(([parts, boundaryVariant, cut, truncate]) => {
      const b = 'xYz0123';
      const text = multipart([['traits.email', 'ada@example.com'], ['password', s], ...parts], b, s);
      const boundary = { right: `; boundary=${b}`, quoted: `; boundary="${b}"`, other: `; boundary=${s}`, missing: '', empty: '; boundary=' }[boundaryVariant];
      return { kind: 'multipart', data: truncate ? text.slice(0, cut % text.length) : text, contentType: `multipart/form-data${boundary}` };
    });

const randomBody = (s: string): fc.Arbitrary<Body> =>
  fc.oneof(
    fc.tuple(fc.uint8Array({ maxLength: 200 }), fc.nat()).map(([bytes, at]) => {
      const secret = new TextEncoder().encode(s);
      const out = new Uint8Array(bytes.length + secret.length);
      const i = at % (bytes.length + 1);
      out.set(bytes.subarray(0, i));
      out.set(secret, i);
      out.set(bytes.subarray(i), i + secret.length);
      return { kind: 'bytes' as const, data: out, contentType: 'application/octet-stream' };
    }),
    fc.string({ maxLength: 60 }).map((t) => ({ kind: 'text' as const, data: `${t}${s}`, contentType: 'text/plain' })),
  );

/** Content types: usually the body's own, often something odd. */
const contentType = (s: string, own: string) =>
  fc.oneof(
    { weight: 4, arbitrary: fc.constant(own) },
    {
      weight: 3,
      arbitrary: fc.constantFrom(
        'application/json',
        'application/json; charset=utf-8',
        'application/json;charset="UTF-8"',
        'application/json; charset=utf-16',
        'application/json; charset=latin1',
        'application/json;;',
        `application/json; ${s}=1`,
        'Application/JSON',
        'application/vnd.api+json',
        'application/jsonx',
        'application/x-www-form-urlencoded',
        'application/x-www-form-urlencoded; charset=iso-8859-1',
        'multipart/form-data',
        'multipart/form-data; boundary=',
        `multipart/form-data; boundary=${s}`,
        'multipart/mixed; boundary=x',
        'text/plain',
        'text/html',
        'application/xml',
        '*/*',
        '',
        `${s}/${s}`,
        'none',
      ),
    },
    { weight: 1, arbitrary: headerText.map((t) => `${t}${s}`) },
  );

/** Up to three request headers, each with junk or the secret in it. */
const headersArb = (s: string) =>
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.constant('authorization'), fc.constantFrom(`Bearer ${s}`, `Bearer ${s} extra`, `Bearer ${s}!`, `Basic ${s}`, 'Bearer', 'Bearer ory_st_propertytestvalidtoken', s)),
        fc.tuple(fc.constant('x-session-token'), fc.constantFrom(s, `${s} with spaces`, `${s}${'x'.repeat(600)}`, 'ory_st_propertytestvalidtoken', '')),
        fc.tuple(fc.constant('idempotency-key'), fc.oneof(fc.constantFrom(s, `${s}${'k'.repeat(300)}`, ''), headerText.map((t) => `${t}${s}`))),
        fc.tuple(fc.constant('x-session-delivery'), fc.constantFrom('token', 'cookie', ' Token ', s, '')),
        fc.tuple(
          fc.constant('cookie'),
          fc.constantFrom(`kbff_session=${s}`, `kbff_session=${validCookie}`, `kbff_session=${validCookie}${s}`, `a=b; kbff_session="${s}"`, `${s}=${s}`, 'kbff_session=%E0%A4%A'),
        ),
        // Origin and the path are logged when a request is refused; neither is a secret, so they carry none here.
        fc.tuple(fc.constant('origin'), fc.constantFrom('https://app.example.com', 'https://evil.example', 'null', 'http://localhost')),
        fc.tuple(fc.constant('sec-fetch-site'), fc.constantFrom('cross-site', 'same-origin', 'none')),
        fc.tuple(fc.constant('accept'), fc.constantFrom('text/html', 'application/json', '*/*')),
        // Hono echoes a plain X-Request-Id by design (correlation); one with other characters is replaced.
        fc.tuple(fc.constant('x-request-id'), fc.constant(`${s}/not plain`)),
        fc.tuple(fc.constant('x-forwarded-for'), fc.constant(s)),
      ),
      { maxLength: 3 },
    )
    .map((entries) => Object.fromEntries(entries));

const queryArb = (s: string) =>
  fc.constantFrom(
    '',
    '?return_to=https%3A%2F%2Fapp.example.com%2Fwelcome',
    `?return_to=https://evil.example/${s}`,
    `?return_to=javascript:alert('${s}')`,
    `?return_to=//evil.example/${s}`,
    `?return_to=https://${s}@app.example.com/`,
    `?return_to=https://app.example.com/a&return_to=${s}`,
    `?return_to=%E0%A4%A${s}`,
    `?return_to=${s}`,
    `?${s}=${s}`,
    // On the allow-list: the one place a value from the request legitimately comes back (as redirect_to / Location).
    `?return_to=https://app.example.com/${s}`,
  );

const PATHS = ['/v1/registration', '/v1/registration', '/v1/login', '/v1/login', '/v1/session', '/health/alive', '/health/ready', '/openapi.json', '/v1/nope'];

const requestArb = fc.tuple(secretArb, fc.constantFrom(...PATHS)).chain(([secret, path]) =>
  fc.record({
    secret: fc.constant(secret),
    method: fc.constantFrom('POST', 'POST', 'POST', 'POST', 'GET', 'DELETE', 'PUT', 'PATCH', 'OPTIONS', 'HEAD'),
    path: fc.constant(path),
    query: queryArb(secret),
    body: fc.oneof(
      { weight: 4, arbitrary: routeBody(secret, path) },
      { weight: 2, arbitrary: jsonBody(secret) },
      { weight: 2, arbitrary: formBody(secret) },
      { weight: 2, arbitrary: jsonAsForm(secret) },
      { weight: 1, arbitrary: multipartBody(secret) },
      { weight: 1, arbitrary: randomBody(secret) },
      { weight: 1, arbitrary: fc.constant(null) },
    ),
    headers: headersArb(secret),
  }).chain((r): fc.Arbitrary<HostileRequest> => (r.body ? contentType(secret, r.body.contentType).map((ct) => ({ ...r, contentType: ct })) : fc.constant({ ...r, contentType: 'none' }))),
);

interface HostileRequest {
  secret: string;
  method: string;
  path: string;
  query: string;
  body: Body | null;
  headers: Record<string, string>;
  contentType: string;
}

async function send(r: HostileRequest): Promise<{ res: Response; text: string }> {
  const headers: Record<string, string> = { ...r.headers };
  if (r.contentType !== 'none') headers['content-type'] = r.contentType;
  const hasBody = r.body !== null && r.method !== 'GET' && r.method !== 'HEAD';
  const res = await app.request(`${r.path}${r.query}`, { method: r.method, headers, ...(hasBody ? { body: r.body!.data as BodyInit } : {}) });
  return { res, text: await res.text() };
}

/** Every answer: no 5xx, problem+json errors, no secret anywhere but an allow-listed redirect. */
async function check(r: HostileRequest): Promise<void> {
  const logsBefore = logs.length;
  const { res, text } = await send(r);
  const where = `${r.method} ${r.path} (${r.body?.kind ?? 'no body'}, content-type ${r.contentType}) → ${res.status} ${text.slice(0, 300)}`;
  expect(res.status, where).toBeLessThan(500);
  if (res.status >= 400) {
    expect(res.headers.get('content-type'), where).toBe('application/problem+json');
    if (r.method !== 'HEAD') {
      const problem = JSON.parse(text) as { status: unknown; code: unknown; request_id: unknown };
      expect(problem.status, where).toBe(res.status);
      expect(Object.keys(errorCodes), where).toContain(problem.code);
      expect(typeof problem.request_id === 'string' && problem.request_id.length > 0, where).toBe(true);
    }
  }
  // What the client may legitimately get back: a return_to that passed the allow-list.
  let body = text;
  if (res.status < 400 && text !== '' && res.headers.get('content-type')?.startsWith('application/json')) {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    delete parsed.redirect_to;
    body = JSON.stringify(parsed);
  }
  const headerText = [...res.headers].filter(([name]) => !(name === 'location' && res.status === 303)).map(([n, v]) => `${n}: ${v}`).join('\n');
  const secret = r.secret.toLowerCase();
  expect(body.toLowerCase().includes(secret), `the body echoes the secret: ${where}`).toBe(false);
  expect(headerText.toLowerCase().includes(secret), `a header echoes the secret: ${where}\n${headerText}`).toBe(false);
  const logged = logs.slice(logsBefore).join('\n');
  expect(logged.toLowerCase().includes(secret), `a log line holds the secret: ${where}\n${logged.slice(0, 500)}`).toBe(false);
}

// A fixed number of runs, not a speed: on a busy 2-core machine 600 requests through the whole
// app take longer than vitest's default 5 s, which is not what these tests are about.
describe('hostile input on every public route (property)', { timeout: 60_000 }, () => {
  it('never 5xx, always problem+json, never echoes a secret', async () => {
    await fc.assert(fc.asyncProperty(requestArb, check), { seed: 4242, numRuns: 600 });
  });

  it('form and JSON bodies on sign-up and sign-in, with the content type they claim', async () => {
    const focused = fc.tuple(secretArb, fc.constantFrom('/v1/registration', '/v1/login')).chain(([secret, path]) =>
      fc.record({
        secret: fc.constant(secret),
        method: fc.constant('POST'),
        path: fc.constant(path),
        query: fc.constantFrom('', '?return_to=https%3A%2F%2Fapp.example.com%2Fwelcome', `?return_to=https://app.example.com/${secret}`),
        body: fc.oneof({ weight: 3, arbitrary: routeBody(secret, path) }, jsonBody(secret), formBody(secret), jsonAsForm(secret), multipartBody(secret)),
        headers: fc.constant({}),
      }).map((r): HostileRequest => ({ ...r, contentType: r.body.contentType })),
    );
    await fc.assert(fc.asyncProperty(focused, check), { seed: 4242, numRuns: 300 });
  });
});
