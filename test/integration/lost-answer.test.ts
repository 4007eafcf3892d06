import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { startFaultProxy, type FaultProxy } from '../support/fault-proxy.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

// Issue 9, defect 1: Kratos answers the registration submit after the gateway's timeout, or
// the connection drops after Kratos created the identity. The gateway must find out from
// Kratos before it answers: finish the sign-up or roll it back, never leave it half-made, never
// touch an identity another request created. A real fault proxy sits in front of the real Kratos.

const PASSWORD = 'correct-horse-battery-staple';
const OTHER_PASSWORD = 'a-different-person-s-password-42';
registerSecret(OTHER_PASSWORD);
const SUBMIT = /^\/self-service\/registration\?flow=/;

let proxy: FaultProxy;
let standIn: StandIn;
const gateways: TestGateway[] = [];

async function gateway(policy: 'complete' | 'rollback'): Promise<TestGateway> {
  const config: Partial<ConfigInput> = {
    kratos: { public_url: proxy.url, admin_url: inject('kratos').adminUrl, timeout_ms: 500 },
    registration: {
      on_lost_answer: policy,
      fields: { plan: { type: 'enum', values: ['free', 'pro'], target: 'metadata_public', required: true } },
      services: [
        {
          name: 'crm',
          stage: 'after',
          on_failure: 'rollback',
          retries: 0,
          http: { url: `${standIn.url}/crm`, body: { identity_id: '{{identity.id}}' } },
          save: { metadata_public: { tier: 'tier' } },
        },
      ],
    },
  };
  const gw = await startTestGateway({ config });
  gateways.push(gw);
  return gw;
}

async function adminGet(path: string): Promise<any> {
  const res = await fetch(`${inject('kratos').adminUrl}${path}`);
  expect(res.status).toBe(200);
  return res.json();
}

async function createIdentityDirectly(email: string, password: string): Promise<string> {
  const res = await fetch(`${inject('kratos').adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email }, credentials: { password: { config: { password } } } }),
  });
  expect(res.status).toBe(201);
  return ((await res.json()) as { id: string }).id;
}

beforeAll(async () => {
  proxy = await startFaultProxy(inject('kratos').publicUrl);
  standIn = await startStandIn();
  standIn.on('/crm', () => ({ status: 200, body: { tier: 'gold' } }));
});
beforeEach(async () => {
  await proxy.settled();
  proxy.reset();
  standIn.reset();
  standIn.on('/crm', () => ({ status: 200, body: { tier: 'gold' } }));
});
afterAll(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await proxy?.settled();
  await proxy?.close();
  await standIn?.close();
});

describe('a registration submit whose answer is lost', () => {
  it('held past the timeout, then forwarded: one finished sign-up, and the key replays it', async () => {
    const gw = await gateway('complete');
    // Exactly the reported repro: the first submit reaches Kratos only after the gateway gave up.
    proxy.rule = ({ method, path, nth }) => (method === 'POST' && SUBMIT.test(path) && nth === 1 ? { kind: 'hold', ms: 1500 } : undefined);
    const email = uniqueEmail('held');
    const body = { traits: { email }, password: PASSWORD, fields: { plan: 'pro' } };
    const res = await postJson(`${gw.url}/v1/registration`, body, { 'Idempotency-Key': `held-${email}` });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.identity.traits.email).toBe(email);
    expect((await whoami(gw.kratos.publicUrl, res.body.session_token)).status).toBe(200);
    await proxy.settled();
    // The held submit arrived late and was refused by Kratos as a duplicate: one identity.
    const submits = proxy.requests.filter((r) => r.method === 'POST' && SUBMIT.test(r.path));
    expect(submits.map((s) => s.status)).toEqual([400, 200]);
    const found = await identitiesByEmail(gw.kratos.adminUrl, email);
    expect(found).toHaveLength(1);
    expect(found[0]!.id).toBe(res.body.identity.id);
    // The after service ran once for it, and its metadata was written.
    expect(standIn.callsTo('/crm').map((c) => c.body.identity_id)).toEqual([res.body.identity.id]);
    const stored = await adminGet(`/admin/identities/${found[0]!.id}`);
    expect(stored.metadata_public).toEqual({ plan: 'pro', tier: 'gold' });
    // The client's retry with the same key gets the same success, not IDENTIFIER_TAKEN.
    const retry = await postJson(`${gw.url}/v1/registration`, body, { 'Idempotency-Key': `held-${email}` });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(retry.body.identity.id).toBe(res.body.identity.id);
  });

  it('dropped after Kratos created the identity: proven ours, finished, one session', async () => {
    const gw = await gateway('complete');
    proxy.rule = ({ method, path, nth }) => (method === 'POST' && SUBMIT.test(path) && nth === 1 ? { kind: 'drop_after_forward' } : undefined);
    const email = uniqueEmail('dropped');
    const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD, fields: { plan: 'free' } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const found = await identitiesByEmail(gw.kratos.adminUrl, email);
    expect(found).toHaveLength(1);
    expect(res.body.identity.id).toBe(found[0]!.id);
    // An admin-only field never reaches the client through the admin lookup.
    expect(res.body.identity).not.toHaveProperty('metadata_admin');
    expect(res.body.identity).not.toHaveProperty('credentials');
    expect((await whoami(gw.kratos.publicUrl, res.body.session_token)).body.identity.id).toBe(found[0]!.id);
    // Only one registration submit reached Kratos; no second identity was attempted.
    expect(proxy.requests.filter((r) => r.method === 'POST' && SUBMIT.test(r.path))).toHaveLength(1);
    expect(standIn.callsTo('/crm')).toHaveLength(1);
    expect((await adminGet(`/admin/identities/${found[0]!.id}`)).metadata_public).toEqual({ plan: 'free', tier: 'gold' });
    // The session made with the lost answer (its token reached nobody) was revoked.
    const sessions = (await adminGet(`/admin/identities/${found[0]!.id}/sessions?active=true`)) as Array<{ id: string }>;
    expect(sessions.map((s) => s.id)).toEqual([res.body.session.id]);
    expect(gw.logs.some((l) => l.includes('"outcome":"ours"')), gw.logs.join('\n')).toBe(true);
  });

  it('with on_lost_answer: rollback, the identity is deleted and the same key then makes a clean attempt', async () => {
    const gw = await gateway('rollback');
    proxy.rule = ({ method, path, nth }) => (method === 'POST' && SUBMIT.test(path) && nth === 1 ? { kind: 'drop_after_forward' } : undefined);
    const email = uniqueEmail('rolledback');
    const body = { traits: { email }, password: PASSWORD, fields: { plan: 'free' } };
    const first = await postJson(`${gw.url}/v1/registration`, body, { 'Idempotency-Key': `rb-${email}` });
    expect(first.status).toBe(503);
    expect(first.headers.get('content-type')).toBe('application/problem+json');
    expect(first.headers.get('retry-after')).toBe('5');
    expect(first.body.code).toBe('SIGNUP_ROLLED_BACK');
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(0);
    expect(standIn.callsTo('/crm')).toHaveLength(0);
    const retry = await postJson(`${gw.url}/v1/registration`, body, { 'Idempotency-Key': `rb-${email}` });
    expect(retry.status).toBe(200);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
  });

  it('never deletes an identity another request created in the same moment', async () => {
    const gw = await gateway('rollback');
    const email = uniqueEmail('race');
    let competitor = '';
    // Another person's sign-up for the same email lands between our flow's creation and our
    // submit; our submit is refused as a duplicate and that answer is lost.
    proxy.rule = ({ method, path }) =>
      method === 'POST' && SUBMIT.test(path)
        ? { kind: 'drop_after_forward', before: async () => void (competitor = await createIdentityDirectly(email, OTHER_PASSWORD)) }
        : undefined;
    const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD, fields: { plan: 'free' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/traits/email', code: 'IDENTIFIER_TAKEN' })]);
    const found = await identitiesByEmail(gw.kratos.adminUrl, email);
    expect(found.map((i) => i.id)).toEqual([competitor]);
    expect(standIn.callsTo('/crm')).toHaveLength(0);
  });

  it('never deletes an account that existed before the attempt, even with the same password', async () => {
    const gw = await gateway('rollback');
    const email = uniqueEmail('existing');
    const existing = await createIdentityDirectly(email, PASSWORD);
    proxy.rule = ({ method, path }) => (method === 'POST' && SUBMIT.test(path) ? { kind: 'drop_after_forward' } : undefined);
    const res = await postJson(`${gw.url}/v1/registration`, { traits: { email }, password: PASSWORD, fields: { plan: 'free' } });
    expect(res.status).toBe(400);
    expect(res.body.errors[0].code).toBe('IDENTIFIER_TAKEN');
    expect((await identitiesByEmail(gw.kratos.adminUrl, email)).map((i) => i.id)).toEqual([existing]);
  });
});
