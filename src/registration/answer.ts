import { respondWithOutcome } from '../after-jobs/respond.ts';
import type { AppContext } from '../app-env.ts';
import { problemResponse } from '../errors.ts';
import type { SignUpAnswer } from '../idempotency/with-idempotency.ts';
import type { SignUpDeps } from './deps.ts';
import type { SignUpResult } from './sign-up.ts';

/** On Workers, hands `work` to the execution context's `waitUntil`; on Node there is none. */
export function waitUntilOf(c: AppContext): NonNullable<SignUpDeps['waitUntil']> {
  return (work) => {
    let ctx: { waitUntil(p: Promise<unknown>): void };
    try {
      ctx = c.executionCtx;
    } catch {
      return; // Node: no ExecutionContext
    }
    ctx.waitUntil(work);
  };
}

/** A sign-up's result as the HTTP answer, and whether an identity exists after it (password and code sign-up alike). */
export function signUpAnswer(c: AppContext, result: SignUpResult): SignUpAnswer {
  switch (result.kind) {
    case 'done':
      return { response: respondWithOutcome(c, result.value), identityExists: true };
    case 'rolled_back':
      return { response: problemResponse(c, result.answer), identityExists: false };
    case 'rollback_failed':
      return { response: problemResponse(c, result.answer), identityExists: true };
  }
}
