import type { Context } from 'hono';
import { applyCookie, type SetCookie } from '../session/cookie.ts';
import { isHtmlFormPost } from '../session/delivery.ts';
import { jsonResponse } from '../shared/response.ts';

/** A flow's successful outcome, as orchestration returns it. */
export interface FlowOutcome {
  body: Record<string, unknown>;
  cookie?: SetCookie | undefined;
  redirectTo?: string | undefined;
}

/**
 * The HTTP answer to a successful flow: sets the session cookie, then JSON clients get
 * `redirect_to` in the body and a plain HTML form post gets a 303 to it.
 */
export function respondWithOutcome(c: Context, outcome: FlowOutcome): Response {
  if (outcome.cookie) applyCookie(c, outcome.cookie);
  const { body, redirectTo } = outcome;
  if (redirectTo && isHtmlFormPost(c)) return c.redirect(redirectTo, 303);
  return jsonResponse(c, JSON.stringify(redirectTo ? Object.assign({}, body, { redirect_to: redirectTo }) : body), 200, 'application/json');
}
