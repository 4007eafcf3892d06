/** RFC 6901 JSON pointers: into request bodies (error pointers) and into traits (the identifier). */

/** RFC 6901 JSON pointer from a path. */
export function toPointer(path: readonly PropertyKey[]): string {
  return path.map((p) => `/${String(p).replaceAll('~', '~0').replaceAll('/', '~1')}`).join('');
}

/** The value an RFC 6901 JSON pointer (`/traits/email`) names in `root`, if any. */
export function valueAtPointer(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  return valueAt(root, pointer.slice(1).split('/').map((p) => p.replaceAll('~1', '/').replaceAll('~0', '~')));
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
