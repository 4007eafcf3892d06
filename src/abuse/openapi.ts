import { problemContent } from '../shared/openapi-schemas.ts';

/** OpenAPI pieces for rate-limited operations: their headers and the 429 answer. */

const text = { type: 'string' } as const;

/** The IETF RateLimit headers, sent on every answer of a rate-limited operation. */
export const rateLimitHeaders = {
  'RateLimit-Policy': {
    description: 'The limits of this operation (draft-ietf-httpapi-ratelimit-headers): `"ip";q=30;w=60, "identifier";q=10;w=60` (quota per window of w seconds).',
    schema: text,
  },
  RateLimit: {
    description: 'What is left of each limit: `"ip";r=29;t=60` (r requests remain, the window resets in t seconds).',
    schema: text,
  },
} as const;

/** The 429 answer of a rate-limited operation. */
export const rateLimitedResponses = {
  429: {
    description: 'RATE_LIMITED: too many requests from this client IP or for this identifier (or too many failed sign-ins); retry after `Retry-After` seconds',
    headers: { ...rateLimitHeaders, 'Retry-After': { description: 'Seconds until the limit that ran out resets.', schema: { type: 'integer' } } },
    content: problemContent,
  },
} as const;
