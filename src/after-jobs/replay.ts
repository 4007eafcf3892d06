import type { Session } from '@ory/client';
import type { AfterJobPlan } from './plan.ts';
import type { AppContext } from '../app-env.ts';
import { AppError } from '../errors.ts';
import type { ForwardedClient } from '../kratos/client.ts';
import { isHtmlFormPost, setSessionCookie, type Delivery } from '../session/delivery.ts';

/** What the session jobs put into the response body. */
export interface SessionOutput {
  session?: Session;
  session_token?: string;
}

/**
 * Replays the `revoke_active_sessions` and `session` after-jobs for a session Kratos just
 * issued. Without a `session` job the new Kratos session is revoked again, so nothing holds an
 * active session that nobody can use. If revoking the other sessions fails, the new session
 * is revoked too and the request fails: a login that promised to sign out other devices must
 * not succeed silently without doing so.
 */
export async function replaySessionJobs(
  c: AppContext,
  plan: AfterJobPlan,
  issued: { session: Session | undefined; token: string | undefined },
  delivery: Delivery,
  client: ForwardedClient,
): Promise<SessionOutput> {
  const { kratos } = c.get('deps');
  const { token, session } = issued;
  if (!token) return {};
  if (plan.revokeActiveSessions) {
    const revoked = await kratos.revokeOtherSessions(token, client);
    if (revoked.kind !== 'ok') {
      c.get('log').error('revoke_active_sessions failed; revoking the new session', { upstream: 'problem' in revoked ? revoked.problem : revoked.kind });
      await kratos.revokeSession(token, client);
      throw new AppError('KRATOS_UNAVAILABLE');
    }
  }
  if (!plan.session) {
    const revoked = await kratos.revokeSession(token, client);
    if (revoked.kind !== 'ok') c.get('log').warn('could not revoke the unused Kratos session', { kind: revoked.kind });
    return {};
  }
  if (delivery === 'token') return { ...(session ? { session } : {}), session_token: token };
  const expiresAt = session?.expires_at ? Date.parse(session.expires_at) : NaN;
  // Kratos always sends expires_at; a cookie without an end would outlive the session.
  await setSessionCookie(c, token, Number.isFinite(expiresAt) ? expiresAt : (c.get('deps').now?.() ?? Date.now()) + 3_600_000);
  return session ? { session } : {};
}

/** JSON clients get `redirect_to` in the body; a plain HTML form post gets a 303 to it. */
export function respondWithRedirect(c: AppContext, body: Record<string, unknown>, redirectTo: string | undefined): Response {
  if (redirectTo && isHtmlFormPost(c)) return c.redirect(redirectTo, 303);
  return c.json(redirectTo ? { ...body, redirect_to: redirectTo } : body, 200);
}
