import { afterAll, beforeAll, beforeEach, describe, expect, inject, it } from 'vitest';
import { identitiesByEmail, postJson, uniqueEmail } from './gateway.ts';
import { startStandIn, type StandIn } from './stand-in.ts';

/**
 * One set of scenarios, run against every runtime (Node in test/integration, workerd in
 * test/workers), so the two cannot drift. Each runtime supplies `start(rawConfig)`.
 */
export interface RuntimeGateway {
  url: string;
  close(): Promise<unknown>;
  /** Evidence that the runtime's Idempotency-Key store was used (e.g. Durable Object storage). */
  idempotencyEvidence?: () => Promise<boolean>;
}

export type StartRuntime = (rawConfig: Record<string, unknown>) => Promise<RuntimeGateway>;

const PASSWORD = 'correct-horse-battery-staple';
const APP = 'https://app.example.com';

export function scenarioConfig(kratos: { publicUrl: string; adminUrl: string }, standInUrl: string): Record<string, unknown> {
  return {
    kratos: { public_url: kratos.publicUrl, admin_url: kratos.adminUrl },
    registration: {
      fields: {
        company: { type: 'string', required: true, min_length: 2, target: 'trait' },
        accept_terms: { type: 'boolean', const: true, required: true },
      },
      services: [
        {
          name: 'crm',
          stage: 'after',
          on_failure: 'rollback',
          retries: 0,
          http: { url: `${standInUrl}/crm`, headers: { 'x-api-key': '${CRM_API_KEY}' }, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}' } },
          save: { metadata_admin: { crm_id: 'id' } },
        },
      ],
    },
    secrets: { session: ['${SESSION_SECRET}'] },
    session: { delivery: 'token', client_choice: true, cookie: { secure: false } },
    selfservice: { registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: `${APP}/welcome`, allow_user_defined: true } }] } } },
    return_to: { allowed_urls: [`${APP}/`] },
    cors: { allowed_origins: [APP] },
    log: { level: 'warn' },
    // Rate limits have their own tests (test/workers/rate-limit.test.ts, test/integration/abuse*.test.ts).
    abuse: { enabled: false },
  };
}

/** The env the scenario config references (secrets). */
export const scenarioEnv = {
  SESSION_SECRET: 'runtime-scenarios-session-secret-0123456789',
  CRM_API_KEY: 'crm-key-for-runtime-scenarios',
};

export function defineRuntimeScenarios(runtime: string, start: StartRuntime): void {
  const tag = runtime.replace(/[^a-z]+/g, '-');
  describe(`${runtime}: shared gateway scenarios against the real Kratos`, () => {
    const kratos = inject('kratos');
    let standIn: StandIn;
    let gw: RuntimeGateway;

    beforeAll(async () => {
      standIn = await startStandIn();
      gw = await start(scenarioConfig(kratos, standIn.url));
    });
    afterAll(async () => {
      await gw?.close();
      await standIn?.close();
    });
    beforeEach(() => {
      standIn.reset();
      standIn.on('/crm', ({ count }) => ({ status: 200, body: { id: `crm-${tag}-${count}` } }));
    });

    const body = (email: string) => ({ traits: { email }, password: PASSWORD, fields: { company: 'Analytical Engines', accept_terms: true } });
    const signUp = (email: string, headers: Record<string, string> = {}, query = '') => postJson(`${gw.url}/v1/registration${query}`, body(email), headers);

    it('signs up with an extra field and an after service that saves metadata', async () => {
      const email = uniqueEmail(`${tag}-ok`);
      const res = await signUp(email);
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      expect(res.body.identity.traits).toMatchObject({ email, company: 'Analytical Engines' });
      expect(res.body.session_token).toMatch(/^ory_st_/);
      expect(res.body.redirect_to).toBe(`${APP}/welcome`);
      const [call] = standIn.callsTo('/crm');
      expect(call!.body).toEqual({ identity_id: res.body.identity.id, email });
      expect(call!.headers['x-api-key']).toBe(scenarioEnv.CRM_API_KEY);
      const stored = (await (await fetch(`${kratos.adminUrl}/admin/identities/${res.body.identity.id}`)).json()) as any;
      expect(stored.metadata_admin).toEqual({ crm_id: `crm-${tag}-1` });
    });

    it('rolls back when the after service fails', async () => {
      standIn.on('/crm', () => ({ status: 500 }));
      const email = uniqueEmail(`${tag}-rollback`);
      const res = await signUp(email);
      expect(res.status).toBe(503);
      expect(res.body.code).toBe('SIGNUP_ROLLED_BACK');
      expect(await identitiesByEmail(kratos.adminUrl, email)).toEqual([]);
    });

    it('reports a duplicate email as IDENTIFIER_TAKEN', async () => {
      const email = uniqueEmail(`${tag}-dup`);
      expect((await signUp(email)).status).toBe(200);
      const res = await signUp(email);
      expect(res.status).toBe(400);
      expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/traits/email', code: 'IDENTIFIER_TAKEN' })]);
    });

    it('delivers a cookie session that works for whoami and logout', async () => {
      const email = uniqueEmail(`${tag}-cookie`);
      const res = await signUp(email, { 'x-session-delivery': 'cookie' });
      expect(res.status).toBe(200);
      expect(res.body).not.toHaveProperty('session_token');
      const line = res.headers.getSetCookie().find((c) => c.startsWith('kbff_session='))!;
      expect(line).toMatch(/HttpOnly/);
      const cookie = line.split(';')[0]!;
      const me = await fetch(`${gw.url}/v1/session`, { headers: { cookie } });
      expect(me.status).toBe(200);
      expect(((await me.json()) as any).session.identity.traits.email).toBe(email);
      const out = await fetch(`${gw.url}/v1/session`, { method: 'DELETE', headers: { cookie, origin: APP } });
      expect(out.status).toBe(204);
      const session = (await (await fetch(`${kratos.adminUrl}/admin/sessions/${res.body.session.id}`)).json()) as any;
      expect(session.active).toBe(false);
      expect((await fetch(`${gw.url}/v1/session`, { headers: { cookie } })).status).toBe(401);
    });

    it('uses an allowed return_to and refuses another before calling Kratos', async () => {
      const ok = await signUp(uniqueEmail(`${tag}-redir`), {}, `?return_to=${encodeURIComponent(`${APP}/dash?x=1`)}`);
      expect(ok.body.redirect_to).toBe(`${APP}/dash?x=1`);
      const email = uniqueEmail(`${tag}-evil`);
      const bad = await signUp(email, {}, `?return_to=${encodeURIComponent('https://app.example.com.evil.com/')}`);
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe('RETURN_TO_NOT_ALLOWED');
      expect(await identitiesByEmail(kratos.adminUrl, email)).toEqual([]);
    });

    it('replays an Idempotency-Key, answers 409 while the first runs and 422 for another body', async () => {
      standIn.on('/crm', ({ count }) => ({ status: 200, body: { id: `crm-slow-${count}` }, delayMs: 400 }));
      const email = uniqueEmail(`${tag}-idem`);
      const key = `key-${email}`;
      const first = signUp(email, { 'idempotency-key': key });
      await new Promise((r) => setTimeout(r, 150));
      const during = await signUp(email, { 'idempotency-key': key });
      expect(during.status).toBe(409);
      expect(during.body.code).toBe('IDEMPOTENCY_KEY_IN_USE');
      const done = await first;
      expect(done.status).toBe(200);
      const replay = await signUp(email, { 'idempotency-key': key });
      expect(replay.status).toBe(200);
      expect(replay.headers.get('idempotent-replayed')).toBe('true');
      expect(replay.body).toEqual(done.body);
      const other = await signUp(uniqueEmail(`${tag}-idem2`), { 'idempotency-key': key });
      expect(other.status).toBe(422);
      expect(await identitiesByEmail(kratos.adminUrl, email)).toHaveLength(1);
      expect(standIn.callsTo('/crm')).toHaveLength(1);
      if (gw.idempotencyEvidence) expect(await gw.idempotencyEvidence()).toBe(true);
    });
  });
}
