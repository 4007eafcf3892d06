import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { recordedHooks } from '../support/hook-recorder.ts';
import { allLogs, identitiesByEmail, postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

const PASSWORD = 'correct-horse-battery-staple';
const API_KEY = 'sk_live_standin_api_key_7f3a9c';

let standIn: StandIn;
let gw: TestGateway;

function servicesConfig(url: string): Partial<ConfigInput> {
  return {
    registration: {
      fields: {
        company: { type: 'string', required: true, min_length: 2, target: 'trait' },
        vat_id: { type: 'string', required: true, pattern: '^[A-Z]{2}[0-9A-Z]{2,12}$' },
        accept_terms: { type: 'boolean', const: true, required: true },
        referral: { type: 'string', target: 'transient_payload' },
        plan: { type: 'enum', values: ['free', 'pro'], target: 'metadata_public' },
      },
      services: [
        {
          name: 'vat_check',
          stage: 'before',
          retries: 0,
          http: {
            url: `${url}/vat/check`,
            headers: { 'x-api-key': API_KEY },
            body: { vat_id: '{{fields.vat_id}}', company: '{{fields.company}}' },
          },
          rejected_statuses: [422],
          rejection: { from_body: { errors_path: 'errors', pointer_key: 'pointer', message_key: 'message' } },
        },
        {
          name: 'crm',
          stage: 'after',
          on_failure: 'rollback',
          retries: 1,
          retry_backoff_ms: 20,
          http: { url: `${url}/crm/contacts`, headers: { 'x-api-key': API_KEY }, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}', company: '{{fields.company}}' } },
          save: { metadata_admin: { crm_id: 'id' }, metadata_public: { tier: 'tier' } },
        },
        { name: 'audit', stage: 'after', on_failure: 'continue', retries: 0, http: { url: `${url}/audit`, body: { identity_id: '{{identity.id}}' } } },
        { name: 'welcome_mail', stage: 'after', on_failure: 'retry_later', retries: 0, http: { url: `${url}/mail/welcome`, body: { to: '{{traits.email}}' } } },
      ],
      retry_later: { base_delay_ms: 50, max_delay_ms: 200 },
    },
  };
}

beforeAll(async () => {
  standIn = await startStandIn();
  gw = await startTestGateway({ config: servicesConfig(standIn.url) });
});
afterAll(async () => {
  await gw?.close();
  await standIn?.close();
});
beforeEach(() => {
  standIn.reset();
  standIn.on('/crm/contacts', ({ count }) => ({ status: 200, body: { id: `crm-${count}`, tier: 'gold' } }));
});

const body = (email: string, fields: Record<string, unknown> = {}) => ({
  traits: { email },
  password: PASSWORD,
  fields: { company: 'Analytical Engines', vat_id: 'GB123456789', accept_terms: true, ...fields },
});
const signUp = (email: string, fields: Record<string, unknown> = {}, headers: Record<string, string> = {}) =>
  postJson(`${gw.url}/v1/registration`, body(email, fields), headers);

async function adminIdentity(id: string): Promise<any> {
  const res = await fetch(`${gw.kratos.adminUrl}/admin/identities/${id}`);
  return { status: res.status, body: await res.json() };
}

describe('external services around a real Kratos sign-up', () => {
  it('a before veto → 400 with the service field error at its pointer, and no identity', async () => {
    standIn.on('/vat/check', () => ({ status: 422, body: { errors: [{ pointer: '/fields/vat_id', message: 'VAT number not registered.' }] } }));
    const email = uniqueEmail('veto');
    const res = await signUp(email);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('VALIDATION_FAILED');
    expect(res.body.errors).toEqual([{ pointer: '/fields/vat_id', code: 'SERVICE_REJECTED', message: 'VAT number not registered.' }]);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
    // The service got the field values, the API key, and nothing secret of the user's.
    const [call] = standIn.callsTo('/vat/check');
    expect(call!.body).toEqual({ vat_id: 'GB123456789', company: 'Analytical Engines' });
    expect(call!.headers['x-api-key']).toBe(API_KEY);
    expect(JSON.stringify(call)).not.toContain(PASSWORD);
    expect(standIn.callsTo('/crm/contacts')).toEqual([]);
  });

  it('a before service that is down → 503, nothing created', async () => {
    standIn.on('/vat/check', () => ({ status: 503 }));
    const email = uniqueEmail('vatdown');
    const res = await signUp(email);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SERVICE_UNAVAILABLE');
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it('an after service failing with rollback → 503 SIGNUP_ROLLED_BACK and the identity is gone; the same sign-up succeeds once it recovers', async () => {
    standIn.on('/crm/contacts', () => ({ status: 500, body: { error: 'db down' } }));
    const email = uniqueEmail('rollback');
    const res = await signUp(email);
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SIGNUP_ROLLED_BACK');
    expect(res.headers.get('retry-after')).toBe('5');
    expect(res.headers.getSetCookie()).toEqual([]);
    expect(JSON.stringify(res.body)).not.toContain('db down');
    // The gateway retried the CRM once (retries: 1), then rolled back.
    expect(standIn.callsTo('/crm/contacts')).toHaveLength(2);
    const createdId = standIn.callsTo('/crm/contacts')[0]!.body.identity_id as string;
    expect((await adminIdentity(createdId)).status).toBe(404);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
    // Later services did not run for a sign-up that was undone.
    expect(standIn.callsTo('/mail/welcome')).toEqual([]);

    standIn.on('/crm/contacts', () => ({ status: 200, body: { id: 'crm-ok', tier: 'silver' } }));
    const retry = await signUp(email);
    expect(retry.status).toBe(200);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
  });

  it('an after service with continue failing → success, with the failure reported', async () => {
    standIn.on('/audit', () => ({ status: 500 }));
    const email = uniqueEmail('continue');
    const res = await signUp(email);
    expect(res.status).toBe(200);
    expect(res.body.services).toEqual([{ service: 'audit', outcome: 'failed' }]);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
  });

  it('copies metadata from a service response and from fields onto the identity', async () => {
    const res = await signUp(uniqueEmail('meta'), { plan: 'pro' });
    expect(res.status).toBe(200);
    const stored = await adminIdentity(res.body.identity.id);
    expect(stored.body.metadata_admin).toEqual({ crm_id: 'crm-1' });
    expect(stored.body.metadata_public).toEqual({ tier: 'gold', plan: 'pro' });
    expect(stored.body.traits.company).toBe('Analytical Engines');
    // metadata_admin never reaches the client.
    expect(JSON.stringify(res.body)).not.toContain('crm-1');
    expect(res.body.identity.metadata_public).toEqual({ tier: 'gold', plan: 'pro' });
  });

  it('delivers transient_payload fields to Kratos (seen by a real Kratos web_hook)', async () => {
    const res = await signUp(uniqueEmail('transient'), { referral: 'friend-42' });
    expect(res.status).toBe(200);
    const hooks = await recordedHooks(inject('hookRecorderUrl'));
    const mine = hooks.find((h) => h.identity_id === res.body.identity.id);
    expect(mine?.transient_payload).toEqual({ referral: 'friend-42' });
    expect(res.body.identity.traits).not.toHaveProperty('referral');
  });

  it('retries a retry_later service in the background until it succeeds', async () => {
    standIn.on('/mail/welcome', ({ count }) => ({ status: count < 3 ? 503 : 202 }));
    const email = uniqueEmail('welcome');
    const res = await signUp(email);
    expect(res.status).toBe(200);
    expect(res.body.services).toEqual([{ service: 'welcome_mail', outcome: 'retrying' }]);
    await expect.poll(() => standIn.callsTo('/mail/welcome').length, { timeout: 5000 }).toBe(3);
    const sent = standIn.callsTo('/mail/welcome');
    expect(sent.every((c) => c.body.to === email)).toBe(true);
    // One idempotency key for the sign-up, a new request id per attempt.
    expect(new Set(sent.map((c) => c.headers['idempotency-key'])).size).toBe(1);
    expect(new Set(sent.map((c) => c.headers['x-request-id'])).size).toBe(3);
  });
});

describe('Idempotency-Key', () => {
  it('20 concurrent requests with one key → exactly one identity; every answer is the replay or 409', async () => {
    const email = uniqueEmail('idem');
    const key = `signup-${email}`;
    const results = await Promise.all(Array.from({ length: 20 }, () => signUp(email, {}, { 'idempotency-key': key })));
    const statuses = results.map((r) => r.status);
    expect(statuses.filter((s) => s === 200).length).toBeGreaterThanOrEqual(1);
    expect(statuses.every((s) => s === 200 || s === 409)).toBe(true);
    const successes = results.filter((r) => r.status === 200);
    for (const r of successes) expect(r.body.identity.id).toBe(successes[0]!.body.identity.id);
    for (const r of results.filter((x) => x.status === 409)) expect(r.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
    expect(standIn.callsTo('/crm/contacts')).toHaveLength(1);

    // After the first finished, the same key and body replay the first answer exactly.
    const replay = await signUp(email, {}, { 'idempotency-key': key });
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body).toEqual(successes[0]!.body);
    // A different body with the same key is refused.
    const other = await signUp(uniqueEmail('idem-other'), {}, { 'idempotency-key': key });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe('IDEMPOTENCY_KEY_MISMATCH');
  });

  it('replays a cookie-delivered session as the first time', async () => {
    const cookieGw = await startTestGateway({
      config: { secrets: { session: ['idempotency-cookie-secret-0123456789abc'] }, session: { delivery: 'cookie', cookie: { secure: false } } },
    });
    try {
      const email = uniqueEmail('idemcookie');
      const first = await postJson(`${cookieGw.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'idempotency-key': `k-${email}` });
      const again = await postJson(`${cookieGw.url}/v1/registration`, { traits: { email }, password: PASSWORD }, { 'idempotency-key': `k-${email}` });
      expect(first.status).toBe(200);
      expect(again.status).toBe(200);
      expect(again.headers.getSetCookie()).toEqual(first.headers.getSetCookie());
      expect(again.body).toEqual(first.body);
      expect(again.body).not.toHaveProperty('session_token');
    } finally {
      await cookieGw.close();
    }
  });

  it('releases the key when nothing was created, so the client can retry with it', async () => {
    standIn.on('/vat/check', ({ count }) => ({ status: count === 1 ? 503 : 200 }));
    const email = uniqueEmail('idemretry');
    const first = await signUp(email, {}, { 'idempotency-key': `r-${email}` });
    expect(first.status).toBe(503);
    const second = await signUp(email, {}, { 'idempotency-key': `r-${email}` });
    expect(second.status).toBe(200);
  });

  it('refuses a malformed key', async () => {
    const res = await signUp(uniqueEmail('badkey'), {}, { 'idempotency-key': 'x'.repeat(300) });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('INVALID_IDEMPOTENCY_KEY');
  });
});

describe('concurrency', () => {
  it('two independent before services of 300 ms, marked concurrent, overlap', async () => {
    const local = await startStandIn();
    local.on('/a', () => ({ status: 200, delayMs: 300 }));
    local.on('/b', () => ({ status: 200, delayMs: 300 }));
    const conc = await startTestGateway({
      config: {
        registration: {
          services: [
            { name: 'check_a', stage: 'before', concurrent: true, http: { url: `${local.url}/a`, body: {} } },
            { name: 'check_b', stage: 'before', concurrent: true, http: { url: `${local.url}/b`, body: {} } },
          ],
        },
      },
    });
    try {
      const res = await postJson(`${conc.url}/v1/registration`, { traits: { email: uniqueEmail('conc') }, password: PASSWORD });
      expect(res.status).toBe(200);
      const [a] = local.callsTo('/a');
      const [b] = local.callsTo('/b');
      // Each started before the other finished: they ran at the same time, not one after the other.
      expect(b!.startedAt).toBeLessThan(a!.finishedAt);
      expect(a!.startedAt).toBeLessThan(b!.finishedAt);
      const span = Math.max(a!.finishedAt, b!.finishedAt) - Math.min(a!.startedAt, b!.startedAt);
      expect(span).toBeLessThan(600);
    } finally {
      await conc.close();
      await local.close();
    }
  });
});

describe('logs', () => {
  it('never contain the password, a session token or a service API key', () => {
    expect(allLogs.length).toBeGreaterThan(20);
    const text = allLogs.join('\n');
    expect(text).not.toContain(PASSWORD);
    expect(text).not.toContain(API_KEY);
    expect(text).not.toMatch(/ory_st_[A-Za-z0-9]{8,}/);
  });
});
