import type { Session } from '@ory/client';
import { AppError } from '../errors.ts';
import type { ForwardedClient, KratosPort } from '../kratos/port.ts';
import type { Delivery, SessionConfig } from '../session/config.ts';
import { sessionCookie, type SessionCookies, type SetCookie } from '../session/cookie.ts';
import type { Logger } from '../shared/log.ts';
import type { AfterJobPlan } from './plan.ts';

/** What the session jobs put into the response body. */
export interface SessionOutput {
  session?: Session;
  session_token?: string;
}

/** What replaying the session jobs needs. */
export interface SessionJobDeps {
  kratos: KratosPort;
  log: Logger;
  now: () => number;
  /** Undefined without `secrets.session` (then cookie delivery was refused earlier). */
  cookies: SessionCookies | undefined;
  cookieConfig: SessionConfig['cookie'];
}

/**
 * Replays the `revoke_active_sessions` and `session` after-jobs for a session Kratos just
 * issued. Without a `session` job the new Kratos session is revoked again, so nothing holds an
 * active session that nobody can use. If revoking the other sessions fails, the new session
 * is revoked too and the request fails: a login that promised to sign out other devices must
 * not succeed silently without doing so. Returns the body part and the cookie to set.
 */
export async function replaySessionJobs(
  deps: SessionJobDeps,
  plan: AfterJobPlan,
  issued: { session: Session | undefined; token: string | undefined },
  delivery: Delivery,
  client: ForwardedClient,
): Promise<{ output: SessionOutput; cookie?: SetCookie }> {
  const { kratos, log } = deps;
  const { token, session } = issued;
  if (!token) return { output: {} };
  if (plan.revokeActiveSessions) {
    const revoked = await kratos.revokeOtherSessions(token, client);
    if (revoked.kind !== 'ok') {
      log.error('revoke_active_sessions failed; revoking the new session', { upstream: 'problem' in revoked ? revoked.problem : revoked.kind });
      await kratos.revokeSession(token, client);
      throw new AppError('KRATOS_UNAVAILABLE');
    }
  }
  if (!plan.session) {
    const revoked = await kratos.revokeSession(token, client);
    if (revoked.kind !== 'ok') log.warn('could not revoke the unused Kratos session', { kind: revoked.kind });
    return { output: {} };
  }
  if (delivery === 'token') return { output: session ? { session, session_token: token } : { session_token: token } };
  if (!deps.cookies) throw new AppError('INTERNAL_ERROR', { detail: 'Cookie delivery needs secrets.session.' });
  const now = deps.now();
  const expiresAt = session?.expires_at ? Date.parse(session.expires_at) : NaN;
  // Kratos always sends expires_at; a cookie without an end would outlive the session.
  const cookie = await sessionCookie(deps.cookieConfig, deps.cookies, token, Number.isFinite(expiresAt) ? expiresAt : now + 3_600_000, now);
  return { output: session ? { session } : {}, cookie };
}
