import { OpenAPIHono } from '@hono/zod-openapi';
import type { AppEnv } from '../app-env.ts';
import { validationError } from '../errors.ts';
import { zodIssuesToFieldErrors } from './zod-issues.ts';

/**
 * A sub-app whose zod validation failures become our VALIDATION_FAILED problem, with
 * pointers into the body (`/fields/vat_id`) and our codes. Every feature router uses it.
 */
export function createRouter(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: async (result, c) => {
      if (result.success) return;
      // The validator already parsed the body (Hono caches it); it tells missing from wrong.
      const input = result.target === 'json' ? await c.req.json().catch(() => undefined) : undefined;
      const base = result.target === 'json' ? [] : [result.target];
      throw validationError(zodIssuesToFieldErrors(result.error.issues, input, base));
    },
  });
}

