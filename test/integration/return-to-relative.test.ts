import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/shared/http.ts';
import { identitiesByEmail, postJson, startTestGateway, uniqueEmail, whoami, type TestGateway } from '../support/gateway.ts';

// A relative `return_to` lands on the origin of the redirect job's redirect_to, as in Kratos,
// and the resolved URL must still be on the allow-list. Against the real Kratos.

const PASSWORD = 'correct-horse-battery-staple';
const APP = 'https://app.example.com';

const calls: HttpRequest[] = [];
let gateway: TestGateway;
let noDefault: TestGateway;

beforeAll(async () => {
  gateway = await startTestGateway({
    config: {
      selfservice: { registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: `${APP}/welcome`, allow_user_defined: true } }] } } },
      return_to: { allowed_urls: [`${APP}/welcome`, `${APP}/dashboard`] },
    },
    wrapTransport: (t) => async (req) => {
      calls.push(req);
      return t(req);
    },
  });
  // A redirect job without redirect_to: there is no origin to resolve a relative path on.
  noDefault = await startTestGateway({
    config: {
      selfservice: { registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { allow_user_defined: true } }] } } },
      return_to: { allowed_urls: [`${APP}/`] },
    },
  });
});

afterAll(async () => {
  await Promise.all([gateway?.close(), noDefault?.close()]);
});

const signUp = (gw: TestGateway, email: string, returnTo: string) =>
  postJson(`${gw.url}/v1/registration?return_to=${encodeURIComponent(returnTo)}`, { traits: { email }, password: PASSWORD });

describe('relative return_to', () => {
  it('signs up with ?return_to=/dashboard and answers the allowed absolute URL', async () => {
    const email = uniqueEmail('relative');
    const res = await signUp(gateway, email, '/dashboard?tab=billing');
    expect(res.status).toBe(200);
    expect(res.body.redirect_to).toBe(`${APP}/dashboard?tab=billing`);
    const [identity] = await identitiesByEmail(gateway.kratos.adminUrl, email);
    expect(identity?.id).toBe(res.body.identity.id);
    expect((await whoami(gateway.kratos.publicUrl, res.body.session_token)).status).toBe(200);
  });

  it.each([
    ['protocol-relative', '//evil.com'],
    ['slash backslash', '/\\evil.com'],
    ['tab between the slashes', '/\t/evil.com'],
    ['dot-dot to an empty segment', '/..//evil.com'],
    ['encoded slashes', '/%2F%2Fevil.com'],
    ['a relative path off the allow-list', '/settings'],
  ])('refuses %s (%j) with 400 RETURN_TO_NOT_ALLOWED before calling Kratos; no identity', async (_name, returnTo) => {
    const email = uniqueEmail('relative-hostile');
    const before = calls.length;
    const res = await signUp(gateway, email, returnTo);
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('RETURN_TO_NOT_ALLOWED');
    expect(calls.length).toBe(before);
    expect(await identitiesByEmail(gateway.kratos.adminUrl, email)).toEqual([]);
  });

  it('refuses a relative path when the redirect job has no redirect_to, and says why', async () => {
    const email = uniqueEmail('relative-nodefault');
    const res = await signUp(noDefault, email, '/dashboard');
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('RETURN_TO_NOT_ALLOWED');
    expect(res.body.errors[0].message).toMatch(/no redirect_to to resolve it against/);
    expect(await identitiesByEmail(noDefault.kratos.adminUrl, email)).toEqual([]);
    // The same gateway takes an absolute return_to.
    const ok = await signUp(noDefault, uniqueEmail('relative-nodefault'), `${APP}/dashboard`);
    expect(ok.status).toBe(200);
    expect(ok.body.redirect_to).toBe(`${APP}/dashboard`);
  });
});
