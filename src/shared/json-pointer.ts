/** RFC 6901 JSON pointers: into request bodies (error pointers) and into traits (the identifier). */

/** RFC 6901 JSON pointer from a path. */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

// Parsed pointers: they come from the config (the identifier pointer), a handful per process,
// and parsing one on every sign-up showed in the profile (issue 16). Bounded all the same.
const parsedPointers = new Map<string, readonly string[]>();
const MAX_PARSED_POINTERS = 64;

function pointerPath(pointer: string): readonly string[] {
  let path = parsedPointers.get(pointer);
  if (!path) {
    path = pointer
      .slice(1)
      .split('/')
      .map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (parsedPointers.size >= MAX_PARSED_POINTERS) parsedPointers.clear();
    parsedPointers.set(pointer, path);
  }
  return path;
}

/** The value an RFC 6901 JSON pointer (`/traits/email`) names in `root`, if any. */
export function valueAtPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  return valueAt(root, pointerPath(pointer));
}

/** The value at `path` in `root`, if any. */
export function valueAt(root: unknown, path: readonly PropertyKey[]): unknown {
  let cur = root;
  for (const key of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<PropertyKey, unknown>)[key];
  }
  return cur;
}
