/**
 * Reads chosen top-level string members of a JSON object text without building the rest of
 * it. A created flow's answer is mostly its UI nodes (1.6 KB, ~9 µs to JSON.parse on Node 20),
 * of which a registration or login needs only `id` and `issued_at` (issue 16).
 *
 * Exact or nothing: `undefined` whenever the text is not a plain JSON object this scanner
 * reads with certainty (a wanted value that is not a plain string or has escapes, a key with
 * escapes, unbalanced nesting, trailing text): the caller then parses the text in full.
 *
 * It stops once every wanted member is found (Kratos writes `id` and `issued_at` before `ui`,
 * so a flow is read in its first ~200 characters): what follows is not looked at, and a later
 * repeat of a member (which Go's encoding/json never writes) would not be seen.
 */
export function topLevelStrings(text: string, names: readonly string[]): Record<string, string> | undefined {
  const out: Record<string, string> = {};
  const n = text.length;
  let found = 0;
  let i = skipSpace(text, 0);
  if (text.charCodeAt(i) !== 0x7b /* { */) return undefined;
  i = skipSpace(text, i + 1);
  if (text.charCodeAt(i) === 0x7d /* } */) return skipSpace(text, i + 1) === n ? out : undefined;
  for (;;) {
    // A key: a string without escapes.
    if (text.charCodeAt(i) !== 0x22) return undefined;
    const keyEnd = text.indexOf('"', i + 1);
    if (keyEnd < 0) return undefined;
    const key = text.slice(i + 1, keyEnd);
    if (key.includes('\\')) return undefined;
    i = skipSpace(text, keyEnd + 1);
    if (text.charCodeAt(i) !== 0x3a /* : */) return undefined;
    i = skipSpace(text, i + 1);
    const c = text.charCodeAt(i);
    if (names.includes(key)) {
      if (c !== 0x22) return undefined;
      const end = text.indexOf('"', i + 1);
      if (end < 0) return undefined;
      const value = text.slice(i + 1, end);
      if (value.includes('\\') || hasControl(value)) return undefined;
      if (!(key in out)) found++;
      out[key] = value;
      if (found === names.length) return out;
      i = end + 1;
    } else {
      i = skipValue(text, i);
      if (i < 0) return undefined;
    }
    i = skipSpace(text, i);
    const sep = text.charCodeAt(i);
    if (sep === 0x2c /* , */) {
      i = skipSpace(text, i + 1);
      continue;
    }
    if (sep === 0x7d /* } */) return skipSpace(text, i + 1) === n ? out : undefined;
    return undefined;
  }
}

function skipSpace(text: string, i: number): number {
  for (;;) {
    const c = text.charCodeAt(i);
    if (c !== 0x20 && c !== 0x0a && c !== 0x0d && c !== 0x09) return i;
    i++;
  }
}

function hasControl(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) < 0x20) return true;
  return false;
}

/** The end of the string starting at the quote at `i` (after its closing quote), or -1. */
function skipString(text: string, i: number): number {
  for (;;) {
    const end = text.indexOf('"', i + 1);
    if (end < 0) return -1;
    // Escaped when preceded by an odd number of backslashes.
    let backslashes = 0;
    for (let j = end - 1; text.charCodeAt(j) === 0x5c; j--) backslashes++;
    if (backslashes % 2 === 0) return end + 1;
    i = end;
  }
}

/** The end of the value starting at `i`, or -1. Nested values are skipped by their brackets and strings. */
function skipValue(text: string, i: number): number {
  const c = text.charCodeAt(i);
  if (c === 0x22) return skipString(text, i);
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    const n = text.length;
    while (i < n) {
      const d = text.charCodeAt(i);
      if (d === 0x22) {
        i = skipString(text, i);
        if (i < 0) return -1;
        continue;
      }
      if (d === 0x7b || d === 0x5b) depth++;
      else if (d === 0x7d || d === 0x5d) {
        depth--;
        if (depth === 0) return i + 1;
      }
      i++;
    }
    return -1;
  }
  // A number, true, false or null: up to the next separator.
  const start = i;
  const n = text.length;
  while (i < n) {
    const d = text.charCodeAt(i);
    if (d === 0x2c || d === 0x7d || d === 0x5d || d === 0x20 || d === 0x0a || d === 0x0d || d === 0x09) break;
    i++;
  }
  return i > start ? i : -1;
}
