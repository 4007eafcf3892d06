import createClient from 'openapi-fetch';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { paths } from '../support/openapi.generated.ts';
import { startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

// A client generated from /openapi.json (openapi-typescript types + openapi-fetch) drives the
// real gateway in front of the real Kratos. The gateway runs the stock config the types were
// generated from; `npm run typecheck` checks these calls against the types, and
// openapi-client-types.test.ts checks the types against the document.

const PASSWORD = 'correct-horse-battery-staple';
let gateway: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway();
});

afterAll(async () => {
  await gateway?.close();
});

describe('a client generated from the OpenAPI document', () => {
  it('signs up, signs in, reads the session and signs out', async () => {
    const api = createClient<paths>({ baseUrl: gateway.url });
    const email = uniqueEmail('typed-client');

    const signUp = await api.POST('/v1/registration', { body: { traits: { email }, password: PASSWORD } });
    expect(signUp.response.status).toBe(200);
    expect(signUp.data?.identity?.traits).toMatchObject({ email });
    expect(signUp.data?.identity?.schema_id).toBe('default');
    expect(signUp.data?.session_token).toMatch(/^ory_st_/);

    const login = await api.POST('/v1/login', { body: { identifier: email, password: PASSWORD } });
    expect(login.response.status).toBe(200);
    const token = login.data!.session_token!;
    expect(token).toMatch(/^ory_st_/);
    expect(login.data?.session?.authenticator_assurance_level).toBe('aal1');

    const whoami = await api.GET('/v1/session', { headers: { Authorization: `Bearer ${token}` } });
    expect(whoami.response.status).toBe(200);
    expect(whoami.data?.session.active).toBe(true);
    expect(whoami.data?.session.identity?.traits).toMatchObject({ email });
    expect(whoami.data?.session.identity?.id).toBe(signUp.data?.identity?.id);

    // Every property the real Kratos sends is in the documented schema (no undocumented fields).
    const doc = (await (await fetch(`${gateway.url}/openapi.json`)).json()) as { components: { schemas: Record<string, { properties: object }> } };
    const documented = (name: string) => Object.keys(doc.components.schemas[name]!.properties);
    expect(documented('Session')).toEqual(expect.arrayContaining(Object.keys(whoami.data!.session)));
    expect(documented('Identity')).toEqual(expect.arrayContaining(Object.keys(whoami.data!.session.identity!)));

    const logout = await api.DELETE('/v1/session', { headers: { 'X-Session-Token': token } });
    expect(logout.response.status).toBe(204);

    const after = await api.GET('/v1/session', { headers: { Authorization: `Bearer ${token}` } });
    expect(after.response.status).toBe(401);
    expect(after.error?.code).toBe('UNAUTHENTICATED');
  });

  it('gets typed problem documents back for a refused sign-in', async () => {
    const api = createClient<paths>({ baseUrl: gateway.url });
    const res = await api.POST('/v1/login', { body: { identifier: uniqueEmail('nobody'), password: PASSWORD } });
    expect(res.response.status).toBe(401);
    expect(res.response.headers.get('content-type')).toBe('application/problem+json');
    expect(res.error?.code).toBe('INVALID_CREDENTIALS');
  });
});
