import { describe, expect, it } from 'vitest';
import { afterJobPlan, selfserviceConfigSchema } from '../../src/after-jobs/plan.ts';

const parse = (input: unknown) => selfserviceConfigSchema.parse(input);

describe('after-job config', () => {
  it('defaults to [session] for both flows', () => {
    const cfg = parse({});
    expect(afterJobPlan(cfg, 'registration')).toEqual({ session: true, revokeActiveSessions: false });
    expect(afterJobPlan(cfg, 'login')).toEqual({ session: true, revokeActiveSessions: false });
  });

  it("reads the seed's job list", () => {
    const cfg = parse({
      login: { after: { password: [{ job: 'session' }, { job: 'revoke_active_sessions' }, { job: 'redirect', config: { redirect_to: 'https://a.example/x', allow_user_defined: true } }] } },
    });
    expect(afterJobPlan(cfg, 'login')).toEqual({ session: true, revokeActiveSessions: true, redirect: { redirectTo: 'https://a.example/x', allowUserDefined: true } });
  });

  it("reads Kratos's newer hooks form", () => {
    const cfg = parse({ login: { after: { password: { hooks: [{ hook: 'revoke_active_sessions' }, { hook: 'session' }], default_browser_return_url: 'https://a.example/' } } } });
    expect(afterJobPlan(cfg, 'login')).toEqual({ session: true, revokeActiveSessions: true, redirect: { redirectTo: 'https://a.example/', allowUserDefined: false } });
  });

  it('treats a list without session as "no session"', () => {
    expect(afterJobPlan(parse({ registration: { after: { password: [{ job: 'redirect', config: { redirect_to: 'https://a.example/' } }] } } }), 'registration').session).toBe(false);
  });

  it.each([
    [{ registration: { after: { password: [{ job: 'revoke_active_sessions' }] } } }, /login job/],
    [{ login: { after: { password: [{ job: 'session' }, { job: 'session' }] } } }, /listed twice/],
    [{ login: { after: { password: { hooks: [{ hook: 'web_hook' }] } } } }, /replays only/],
    [{ login: { after: { password: [{ job: 'redirect', config: { redirect_to: 'not a url' } }] } } }, /absolute URL/],
    [{ login: { after: { oidc: [{ job: 'session' }] } } }, /oidc/],
  ])('refuses %j', (input, message) => {
    const r = selfserviceConfigSchema.safeParse(input);
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toMatch(message);
  });
});
