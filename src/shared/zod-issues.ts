import { z } from '@hono/zod-openapi';
import type { ErrorCode, FieldError } from '../errors.ts';
import { toPointer, valueAt } from './json-pointer.ts';

type Issue = z.core.$ZodIssue;

// Names the schemas declare (config field names, `traits`, `password`, …) all look like this.
const plainName = /^[A-Za-z0-9_-]{1,64}$/;

/**
 * The part of an issue path that can be shown: it stops before the first segment that is not a
 * plain name or an index. Paths from our strict schemas only hold declared names; this keeps a
 * client-chosen key (a record key, say) out of a pointer should a schema ever report one.
 */
function shownPath(path: readonly PropertyKey[]): PropertyKey[] {
  const end = path.findIndex((p) => !(typeof p === 'number' || (typeof p === 'string' && plainName.test(p))));
  return end === -1 ? [...path] : path.slice(0, end);
}

/**
 * Turns zod issues into field errors with our codes and user-facing messages. `input` is the
 * parsed body, used to tell a missing value from a value of the wrong type.
 *
 * Nothing the client sent is echoed: not values, and not the names of properties the schema
 * does not declare. A key is client-chosen text like any value (a JSON body sent as a form
 * turns the whole JSON, password included, into one field name), so an unknown property is
 * reported at its parent object without its name.
 */
export function zodIssuesToFieldErrors(issues: readonly Issue[], input: unknown, base: PropertyKey[] = []): FieldError[] {
  const out: FieldError[] = [];
  for (const issue of issues) {
    const path = [...base, ...issue.path];
    if (issue.code === 'unrecognized_keys') {
      const n = issue.keys.length;
      const message = n === 1 ? 'contains a property that is not allowed' : `contains ${n} properties that are not allowed`;
      out.push({ pointer: toPointer(shownPath(path)), code: 'UNKNOWN_FIELD', message });
      continue;
    }
    const [code, message] = describeIssue(issue, valueAt(input, issue.path) === undefined);
    out.push({ pointer: toPointer(shownPath(path)), code, message });
  }
  return out;
}

function describeIssue(issue: Issue, missing: boolean): [ErrorCode, string] {
  switch (issue.code) {
    case 'invalid_type':
      if (missing) return ['REQUIRED', 'is required'];
      return ['INVALID_TYPE', `must be ${article(issue.expected)}`];
    case 'too_small':
      if (issue.origin === 'string') return ['TOO_SHORT', `must be at least ${issue.minimum} characters`];
      return ['OUT_OF_RANGE', `must be ${issue.inclusive === false ? 'greater than' : 'at least'} ${issue.minimum}`];
    case 'too_big':
      if (issue.origin === 'string') return ['TOO_LONG', `must be at most ${issue.maximum} characters`];
      return ['OUT_OF_RANGE', `must be ${issue.inclusive === false ? 'less than' : 'at most'} ${issue.maximum}`];
    case 'invalid_format':
      if (issue.format === 'email') return ['INVALID_EMAIL', 'must be a valid email address'];
      if (issue.format === 'regex') return ['PATTERN_MISMATCH', 'does not have the required format'];
      if (issue.format === 'date') return ['INVALID_FORMAT', 'must be a date (YYYY-MM-DD)'];
      return ['INVALID_FORMAT', `must be a valid ${issue.format}`];
    case 'invalid_value':
      if (issue.values.length === 1 && issue.values[0] === true) return ['MUST_BE_ACCEPTED', 'must be accepted'];
      return ['INVALID_VALUE', `must be one of: ${issue.values.map(String).join(', ')}`];
    case 'custom': {
      const range = (issue.params as { range?: string } | undefined)?.range;
      if (range === 'min' || range === 'max') return ['OUT_OF_RANGE', 'is outside the allowed dates'];
      // A refinement's message may be built from the value; ours are not shown.
      return ['INVALID_VALUE', 'is not valid'];
    }
    default:
      return ['INVALID_VALUE', 'is not valid'];
  }
}

function article(expected: string): string {
  if (expected === 'int') return 'an integer';
  if (expected === 'object' || expected === 'array') return `an ${expected}`;
  return `a ${expected}`;
}
