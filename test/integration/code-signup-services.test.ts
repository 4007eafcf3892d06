import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { ConfigInput } from '../../src/config.ts';
import { latestCode } from '../support/courier-code.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';
import { startStandIn, type StandIn } from '../support/stand-in.ts';

/**
 * Sign-up by code runs the sign-up pipeline of POST /v1/registration at the verify step: extra
 * fields, before/after services, metadata, rollback, Idempotency-Key — against the real Kratos
 * and a stand-in service on loopback.
 */

const API_KEY = 'sk_live_codesignup_api_key_4b1d';
let standIn: StandIn;
let gw: TestGateway;

function config(url: string): Partial<ConfigInput> {
  return {
    registration: {
      fields: {
        vat_id: { type: 'string', required: true, pattern: '^[A-Z]{2}[0-9A-Z]{2,12}$' },
        plan: { type: 'enum', values: ['free', 'pro'], target: 'metadata_public' },
      },
      services: [
        {
          name: 'vat_check',
          stage: 'before',
          retries: 0,
          http: { url: `${url}/vat/check`, headers: { 'x-api-key': API_KEY }, body: { vat_id: '{{fields.vat_id}}' } },
          rejected_statuses: [422],
          rejection: { from_body: { errors_path: 'errors', pointer_key: 'pointer', message_key: 'message' } },
        },
        {
          name: 'crm',
          stage: 'after',
          on_failure: 'rollback',
          retries: 0,
          http: { url: `${url}/crm/contacts`, headers: { 'x-api-key': API_KEY }, body: { identity_id: '{{identity.id}}', email: '{{traits.email}}' } },
          save: { metadata_admin: { crm_id: 'id' } },
        },
      ],
    },
  };
}

beforeAll(async () => {
  standIn = await startStandIn();
  gw = await startTestGateway({ config: config(standIn.url) });
});
afterAll(async () => {
  await gw?.close();
  await standIn?.close();
});
beforeEach(() => {
  standIn.reset();
  standIn.on('/crm/contacts', ({ count }) => ({ status: 200, body: { id: `crm-${count}` } }));
});

async function sendCode(email: string, fields: Record<string, unknown> = { vat_id: 'GB123456789', plan: 'pro' }) {
  const sent = await postJson(`${gw.url}/v1/registration/code`, { traits: { email }, fields });
  expect(sent.status).toBe(200);
  registerSecret(sent.body.handle);
  const code = await latestCode(gw.kratos.adminUrl, email, 'registration_code_valid');
  registerSecret(code);
  return { handle: sent.body.handle as string, code };
}

describe('sign-up by code through the sign-up pipeline', () => {
  it('runs no service at the send step; at verify: before service, identity, after service with metadata; Idempotency-Key replays', async () => {
    const email = uniqueEmail('codesvc');
    const { handle, code } = await sendCode(email);
    expect(standIn.calls).toEqual([]);

    const headers = { 'idempotency-key': `code-${email}`, 'x-session-delivery': 'token' };
    const ok = await postJson(`${gw.url}/v1/registration/code/verify`, { handle, code }, headers);
    expect(ok.status).toBe(200);
    expect(standIn.callsTo('/vat/check').map((c) => c.body)).toEqual([{ vat_id: 'GB123456789' }]);
    expect(standIn.callsTo('/crm/contacts').map((c) => c.body)).toEqual([{ identity_id: ok.body.identity.id, email }]);
    const admin = (await (await fetch(`${gw.kratos.adminUrl}/admin/identities/${ok.body.identity.id}`)).json()) as any;
    expect(admin.metadata_admin).toEqual({ crm_id: 'crm-1' });
    expect(admin.metadata_public).toEqual({ plan: 'pro' });

    const replay = await postJson(`${gw.url}/v1/registration/code/verify`, { handle, code }, headers);
    expect(replay.status).toBe(200);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(replay.body.identity.id).toBe(ok.body.identity.id);
    expect(standIn.callsTo('/crm/contacts')).toHaveLength(1);
  });

  it('a before veto at verify → field error, no identity', async () => {
    standIn.on('/vat/check', () => ({ status: 422, body: { errors: [{ pointer: '/fields/vat_id', message: 'Unknown VAT number' }] } }));
    const email = uniqueEmail('codeveto');
    const { handle, code } = await sendCode(email);
    const res = await postJson(`${gw.url}/v1/registration/code/verify`, { handle, code });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/fields/vat_id', code: 'SERVICE_REJECTED' })]);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it('an after service that fails rolls the code sign-up back: no identity left', async () => {
    standIn.on('/crm/contacts', () => ({ status: 500 }));
    const email = uniqueEmail('coderollback');
    const { handle, code } = await sendCode(email);
    const res = await postJson(`${gw.url}/v1/registration/code/verify`, { handle, code });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe('SIGNUP_ROLLED_BACK');
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it('validates the extra fields at the send step, before Kratos mails anything', async () => {
    const email = uniqueEmail('codebadfield');
    const res = await postJson(`${gw.url}/v1/registration/code`, { traits: { email }, fields: { vat_id: 'nope' } });
    expect(res.status).toBe(400);
    expect(res.body.errors).toEqual([expect.objectContaining({ pointer: '/fields/vat_id' })]);
    const mails = (await (await fetch(`${gw.kratos.adminUrl}/admin/courier/messages?recipient=${encodeURIComponent(email)}`)).json()) as unknown[];
    expect(mails).toEqual([]);
  });
});
