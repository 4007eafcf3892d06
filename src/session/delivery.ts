import type { Context } from 'hono';
import type { AppContext } from '../app-env.ts';
import { AppError, validationError } from '../errors.ts';
import type { Delivery } from './config.ts';

/** True for a plain HTML form post (no JavaScript): such a client gets a cookie and a 303. */
export function isHtmlFormPost(c: Context): boolean {
  if (c.req.method !== 'POST') return false;
  const header = c.req.header('content-type');
  // The common answer without parsing the header (this runs a few times per request).
  if (header === undefined || header === 'application/json') return false;
  const type = header.split(';')[0]!.trim().toLowerCase();
  return type === 'application/x-www-form-urlencoded' || type === 'multipart/form-data';
}

/**
 * The delivery for this request: HTML form posts always get a cookie (they cannot hold a
 * token); otherwise `X-Session-Delivery` when `session.client_choice` allows it, else the default.
 */
export function chooseDelivery(c: AppContext): Delivery {
  const { config, cookies } = c.get('gateway');
  const cfg = config.session;
  if (isHtmlFormPost(c)) {
    // Decided here, before any upstream call: failing at delivery time would come after Kratos
    // created the identity or the session.
    if (!cookies) {
      throw new AppError('UNSUPPORTED_MEDIA_TYPE', { detail: 'HTML form posts get the session as a cookie, and this gateway has no secrets.session; send JSON.' });
    }
    return 'cookie';
  }
  const asked = c.req.header('x-session-delivery')?.trim().toLowerCase();
  if (asked === undefined || asked === '') return cfg.delivery;
  if (asked !== 'token' && asked !== 'cookie') {
    throw validationError([{ pointer: '', code: 'INVALID_VALUE', message: 'X-Session-Delivery must be "token" or "cookie"' }]);
  }
  if (!cfg.client_choice && asked !== cfg.delivery) {
    throw validationError([{ pointer: '', code: 'INVALID_VALUE', message: `X-Session-Delivery: this gateway delivers sessions only as ${cfg.delivery}` }]);
  }
  return asked;
}
