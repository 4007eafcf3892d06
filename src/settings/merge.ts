/**
 * Profile updates are JSON Merge Patch (RFC 7396) over the identity's current traits, because
 * Kratos's `profile` settings method replaces the whole `traits` object:
 * - an object in the patch is merged key by key, recursively, into the current object;
 * - any other value (string, number, boolean, array) replaces the current value; arrays are
 *   replaced whole, never merged element by element;
 * - `null` deletes the key (Kratos then validates the result: deleting a required trait fails
 *   with REQUIRED at its pointer);
 * - keys the patch does not name are kept as they are.
 */
export function mergePatch(target: unknown, patch: unknown): unknown {
  if (!isPlainObject(patch)) return patch;
  const out: Record<string, unknown> = isPlainObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
