/**
 * Records the login, whoami, sessions, logout and admin-lookup answers of the real Kratos
 * into test/fixtures/kratos, for the unit tests' fake Kratos (test/support/fake-kratos.ts).
 *
 *   npx tsx scripts/record-kratos-fixtures.ts
 *
 * Starts two Kratos instances with scripts/kratos.ts (the pinned version, config/kratos/kratos.yml;
 * the second with a 1 s login lifespan for the expired-flow answer), makes the calls the gateway
 * makes, with the headers it sends (src/kratos/client.ts), and writes each answer's body to
 * `<name>.json` and its request and status to `manifest.json`. Only volatile values are replaced:
 * ids and session tokens by stable fakes (the same real value always gets the same fake), the
 * random ports in base URLs and client addresses by fixed ones. Timestamps are kept as recorded.
 * The registration fixtures beside them were recorded earlier by hand (see README.md there).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { pinnedKratosVersion, startKratos, type KratosInstance } from './kratos.ts';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const outDir = join(root, 'test', 'fixtures', 'kratos');

const EMAIL = 'fixture@example.com';
const PASSWORD = 'correct-horse-battery-staple';
const USER_AGENT = 'kratos-bff-fixture-recorder';

interface Recorded {
  request: string;
  status: number;
  body: unknown;
}

/** Replaces volatile values, consistently across every answer of one run. */
function createScrubber(instances: KratosInstance[]) {
  const ids = new Map<string, string>();
  const tokens = new Map<string, string>();
  const fakeId = (real: string) => {
    if (!ids.has(real)) ids.set(real, `10000000-0000-4000-8000-${String(ids.size + 1).padStart(12, '0')}`);
    return ids.get(real)!;
  };
  const fakeToken = (real: string) => {
    if (!tokens.has(real)) tokens.set(real, `ory_st_FIXTURE${String(tokens.size + 1).padStart(25, '0')}`);
    return tokens.get(real)!;
  };
  return (body: unknown): unknown => {
    if (body === undefined) return undefined;
    let text = JSON.stringify(body);
    for (const k of instances) {
      // Both instances read as the default ports of config/kratos/kratos.yml.
      text = text.split(k.publicUrl).join('http://127.0.0.1:4433').split(k.adminUrl).join('http://127.0.0.1:4434');
    }
    text = text
      .replace(/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/g, (m) => (m === '00000000-0000-0000-0000-000000000000' ? m : fakeId(m)))
      .replace(/ory_st_[A-Za-z0-9]+/g, fakeToken)
      // The client's source port (devices[].ip_address) changes with every connection.
      .replace(/"ip_address":"127\.0\.0\.1:\d+"/g, '"ip_address":"127.0.0.1:40000"')
      // Kratos echoes X-Request-Id as error.request; the fake puts the caller's back in.
      .replace(/"request":"fixture-\d+"/g, '"request":"fixture-request-id"');
    return JSON.parse(text);
  };
}

async function main(): Promise<void> {
  const log = (l: string) => console.error(l);
  console.error(`recording from Kratos ${pinnedKratosVersion()}`);
  const [main, short] = await Promise.all([
    startKratos({ log }),
    startKratos({ log, env: { SELFSERVICE_FLOWS_LOGIN_LIFESPAN: '1s' } }),
  ]);
  const recorded = new Map<string, Recorded>();
  let requestCounter = 0;

  /** One call with the gateway's native-flow headers (src/kratos/client.ts `nativeHeaders`). */
  async function call(origin: string, method: string, path: string, options: { token?: string; body?: unknown } = {}) {
    const headers: Record<string, string> = { accept: 'application/json', 'x-request-id': `fixture-${++requestCounter}`, 'user-agent': USER_AGENT };
    if (options.body !== undefined) headers['content-type'] = 'application/json';
    if (options.token) headers['x-session-token'] = options.token;
    const res = await fetch(`${origin}${path}`, {
      method,
      headers,
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      redirect: 'manual',
    });
    const text = await res.text();
    return { status: res.status, body: text ? (JSON.parse(text) as any) : undefined };
  }

  function keep(name: string, request: string, answer: { status: number; body: unknown }, expectedStatus: number): any {
    if (answer.status !== expectedStatus) {
      throw new Error(`${name}: expected HTTP ${expectedStatus} from ${request}, got ${answer.status}: ${JSON.stringify(answer.body)}`);
    }
    recorded.set(name, { request, status: answer.status, body: answer.body });
    return answer.body;
  }

  const loginFlow = async (k: KratosInstance, token?: string) => call(k.publicUrl, 'GET', '/self-service/login/api', token ? { token } : {});
  const submitLogin = (k: KratosInstance, flowId: string, identifier: string, password: string, token?: string) =>
    call(k.publicUrl, 'POST', `/self-service/login?flow=${flowId}`, { body: { method: 'password', identifier, password }, ...(token ? { token } : {}) });

  try {
    // An account to sign in with (native registration; Kratos's session hook returns a token).
    const reg = await call(main.publicUrl, 'GET', '/self-service/registration/api');
    const signUp = await call(main.publicUrl, 'POST', `/self-service/registration?flow=${reg.body.id}`, {
      body: { method: 'password', traits: { email: EMAIL, name: { first: 'Ada' } }, password: PASSWORD },
    });
    if (signUp.status !== 200) throw new Error(`sign-up failed: ${signUp.status} ${JSON.stringify(signUp.body)}`);

    const flow = keep('login-flow', 'GET /self-service/login/api', await loginFlow(main), 200);
    const success = keep('login-success', 'POST /self-service/login?flow=<id> (right password)', await submitLogin(main, flow.id, EMAIL, PASSWORD), 200);
    const token = success.session_token as string;

    keep('login-wrong-password', 'POST /self-service/login?flow=<id> (wrong password)', await submitLogin(main, (await loginFlow(main)).body.id, EMAIL, 'wrong-password-123'), 400);
    keep(
      'login-unknown-identifier',
      'POST /self-service/login?flow=<id> (unknown identifier)',
      await submitLogin(main, (await loginFlow(main)).body.id, 'nobody@example.com', 'wrong-password-123'),
      400,
    );
    keep('login-flow-session-already-available', 'GET /self-service/login/api with a valid X-Session-Token', await loginFlow(main, token), 400);
    keep(
      'login-session-already-available',
      'POST /self-service/login?flow=<id> with a valid X-Session-Token (flow created without one)',
      await submitLogin(main, (await loginFlow(main)).body.id, EMAIL, PASSWORD, token),
      400,
    );

    keep('whoami', 'GET /sessions/whoami with a valid X-Session-Token', await call(main.publicUrl, 'GET', '/sessions/whoami', { token }), 200);
    keep('whoami-401', 'GET /sessions/whoami with an unknown X-Session-Token', await call(main.publicUrl, 'GET', '/sessions/whoami', { token: 'ory_st_unknown' }), 401);

    // Two more sessions of the same identity: DELETE /sessions from the last revokes the other two.
    const second = await submitLogin(main, (await loginFlow(main)).body.id, EMAIL, PASSWORD);
    const third = await submitLogin(main, (await loginFlow(main)).body.id, EMAIL, PASSWORD);
    keep('sessions-delete', 'DELETE /sessions with a valid X-Session-Token (three others: sign-up and two logins)', await call(main.publicUrl, 'DELETE', '/sessions', { token: third.body.session_token }), 200);
    keep('sessions-delete-401', 'DELETE /sessions with an unknown X-Session-Token', await call(main.publicUrl, 'DELETE', '/sessions', { token: 'ory_st_unknown' }), 401);

    keep('logout', 'DELETE /self-service/logout/api {session_token}', await call(main.publicUrl, 'DELETE', '/self-service/logout/api', { body: { session_token: third.body.session_token } }), 204);
    keep(
      'logout-revoked',
      'DELETE /self-service/logout/api {session_token} of a revoked session',
      await call(main.publicUrl, 'DELETE', '/self-service/logout/api', { body: { session_token: second.body.session_token } }),
      204,
    );
    keep('logout-403', 'DELETE /self-service/logout/api {session_token} unknown', await call(main.publicUrl, 'DELETE', '/self-service/logout/api', { body: { session_token: 'ory_st_unknown' } }), 403);
    keep('whoami-revoked-401', 'GET /sessions/whoami with a revoked X-Session-Token', await call(main.publicUrl, 'GET', '/sessions/whoami', { token: third.body.session_token }), 401);

    keep(
      'admin-identities',
      'GET /admin/identities?credentials_identifier=<email>',
      await call(main.adminUrl, 'GET', `/admin/identities?credentials_identifier=${encodeURIComponent(EMAIL)}`),
      200,
    );

    // Expired: a flow of the 1 s instance, submitted after it ran out.
    const expiring = await loginFlow(short);
    await new Promise((r) => setTimeout(r, 1500));
    keep('login-expired', 'POST /self-service/login?flow=<id> after the flow expired (1 s lifespan)', await submitLogin(short, expiring.body.id, EMAIL, PASSWORD), 410);

    const scrub = createScrubber([main, short]);
    mkdirSync(outDir, { recursive: true });
    const manifestFile = join(outDir, 'manifest.json');
    const fixtures: Record<string, { request: string; status: number }> = {};
    for (const [name, r] of recorded) {
      fixtures[name] = { request: r.request, status: r.status };
      if (r.body !== undefined) writeFileSync(join(outDir, `${name}.json`), `${JSON.stringify(scrub(r.body))}\n`);
      console.error(`recorded ${name}: ${r.status}`);
    }
    writeFileSync(manifestFile, `${JSON.stringify({ kratos: pinnedKratosVersion(), recorder: 'scripts/record-kratos-fixtures.ts', fixtures }, null, 2)}\n`);
  } finally {
    await Promise.all([main.stop(), short.stop()]);
  }
}

main().catch((err) => {
  console.error(err instanceof Error ? err.stack : err);
  process.exit(1);
});
