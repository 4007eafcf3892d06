import { AppError } from '../errors.ts';
import type { Logger } from '../shared/log.ts';
import type { AfterJobPlan } from './plan.ts';
import { checkReturnTo, returnToFromSearch, type ReturnToPolicy } from './return-to.ts';

/**
 * The `redirect` after-job's target for this request, decided *before* any call to Kratos so
 * that a refused `return_to` never leaves an account behind. `redirect_to` is the default;
 * with `allow_user_defined`, a `return_to` query parameter wins if it passes the allow-list,
 * and is returned re-serialised, never as the raw input. `url` is the request's URL.
 */
export function resolveRedirect(plan: AfterJobPlan, url: string, policy: ReturnToPolicy, log: Logger): string | undefined {
  if (!plan.redirect) return undefined;
  // Without allow_user_defined, return_to is not read at all (as in Kratos).
  if (!plan.redirect.allowUserDefined) return plan.redirect.redirectTo;
  const parsed = returnToFromSearch(new URL(url).search);
  const refuse = (reason: string) => {
    log.info('return_to refused', { reason });
    return new AppError('RETURN_TO_NOT_ALLOWED', { errors: [{ pointer: '', code: 'RETURN_TO_NOT_ALLOWED', message: reason }] });
  };
  if (!parsed.ok) throw refuse(parsed.reason);
  if (parsed.value === undefined) return plan.redirect.redirectTo;
  // A relative path (`/dashboard`) lands on redirect_to's origin, as in Kratos; then the allow-list applies.
  const checked = checkReturnTo(parsed.value, policy, { relativeTo: plan.redirect.redirectTo });
  if (!checked.ok) throw refuse(checked.reason);
  return checked.url;
}
