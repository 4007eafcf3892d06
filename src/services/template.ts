/**
 * JSON templates for external-service requests. A template is plain data: strings may hold
 * `{{ path }}` placeholders that read a dot path from the sign-up context. There is no
 * expression language on purpose — config authors get substitution, never code execution —
 * and paths may only read own properties, never `__proto__`, `constructor` or `prototype`.
 */

/** What a template can read. The password is deliberately not part of it. */
export interface TemplateContext {
  fields: Record<string, unknown>;
  traits: Record<string, unknown>;
  request: { id: string; ip?: string | undefined; user_agent?: string | undefined };
  /** Present in the `after` stage only, once Kratos created the identity. */
  identity?: { id: string; traits: Record<string, unknown> } | undefined;
  /** The stable per-sign-up key (the client's Idempotency-Key, or one the gateway made up). */
  idempotency_key: string;
}

/** A template or dot path that cannot be used; thrown at render time, reported at config time. */
export class TemplateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateError';
  }
}

// Segments that would reach an object's prototype machinery rather than its data.
const forbiddenSegments = new Set(['__proto__', 'constructor', 'prototype']);
const segmentPattern = /^[A-Za-z0-9_-]{1,128}$/;

/** Splits `a.b.0.c` into segments, refusing empty, odd or prototype-reaching segments. */
export function parseDotPath(path: string): string[] {
  const segments = path.split('.');
  for (const segment of segments) {
    if (forbiddenSegments.has(segment)) throw new TemplateError(`path "${path}" uses the forbidden segment "${segment}"`);
    if (!segmentPattern.test(segment)) {
      throw new TemplateError(`path "${path}" is not a dot path of letters, digits, "_" and "-"`);
    }
  }
  return segments;
}

/** True when `path` is a dot path `parseDotPath` accepts. */
export function isValidDotPath(path: string): boolean {
  try {
    parseDotPath(path);
    return true;
  } catch {
    return false;
  }
}

/** The value at a dot path (own properties and array indexes only), or undefined. */
export function getPath(value: unknown, path: string | readonly string[]): unknown {
  const segments = typeof path === 'string' ? parseDotPath(path) : path;
  let current = value;
  for (const segment of segments) {
    if (forbiddenSegments.has(segment)) throw new TemplateError(`forbidden path segment "${segment}"`);
    if (Array.isArray(current)) {
      if (!/^\d+$/.test(segment)) return undefined;
      current = current[Number(segment)];
    } else if (current !== null && typeof current === 'object') {
      // Own properties only: a path must never resolve to something inherited.
      if (!Object.hasOwn(current, segment)) return undefined;
      current = (current as Record<string, unknown>)[segment];
    } else {
      return undefined;
    }
  }
  return current;
}

const wholePlaceholder = /^\{\{\s*([^{}]*?)\s*\}\}$/;
const anyPlaceholder = /\{\{\s*([^{}]*?)\s*\}\}/g;

function stringify(value: unknown): string {
  if (value === undefined || value === null) return '';
  if (typeof value === 'string') return value;
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

function renderString(template: string, ctx: TemplateContext, encode: (s: string) => string): unknown {
  const whole = wholePlaceholder.exec(template);
  if (whole) {
    const value = getPath(ctx, whole[1] ?? '');
    // `undefined` cannot be sent as JSON; a missing value is an explicit null. Objects are
    // copied so a service can never share (and mutate) the sign-up's own data; primitives
    // need no copy (structuredClone of every string was a measurable share of a sign-up).
    if (value === undefined) return null;
    return value !== null && typeof value === 'object' ? structuredClone(value) : value;
  }
  return template.replace(anyPlaceholder, (_m, path: string) => encode(stringify(getPath(ctx, path))));
}

function renderValue(template: unknown, ctx: TemplateContext): unknown {
  if (typeof template === 'string') return renderString(template, ctx, (s) => s);
  if (Array.isArray(template)) return template.map((item) => renderValue(item, ctx));
  if (template !== null && typeof template === 'object') {
    // fromEntries defines own properties, so a literal "__proto__" key in a template stays
    // data and never becomes the output object's prototype.
    return Object.fromEntries(Object.entries(template).map(([k, v]) => [k, renderValue(v, ctx)]));
  }
  return template;
}

/**
 * Renders a JSON template: a string that is exactly `{{ path }}` becomes the value at that
 * path with its type kept (null when missing); placeholders inside longer strings are
 * stringified ("" when missing). Object keys are never templated.
 */
export function renderTemplate(template: unknown, ctx: TemplateContext): unknown {
  return renderValue(template, ctx);
}

/**
 * Renders a URL template: every placeholder is stringified and URL-encoded, so a value can
 * never add path segments, query parameters or a fragment. The result is refused when a value
 * forms a `.` or `..` path segment, which URL parsers would resolve to another path.
 */
export function renderUrl(template: string, ctx: TemplateContext): URL {
  const rendered = template.replace(anyPlaceholder, (_m, path: string) => encodeURIComponent(stringify(getPath(ctx, path))));
  const pathEnd = rendered.search(/[?#]/);
  const rawPath = (pathEnd === -1 ? rendered : rendered.slice(0, pathEnd)).replace(/^[a-z]+:\/\/[^/]*/i, '');
  for (const segment of rawPath.split('/')) {
    if (/^(\.|%2e){1,2}$/i.test(segment)) throw new TemplateError('a URL placeholder produced a "." or ".." path segment');
  }
  return new URL(rendered);
}

/**
 * A JSON template compiled once per service (issue 16: rendering per attempt re-split every
 * path, rebuilt constant parts and then serialised the whole tree). `(ctx) => JSON text`, the
 * same text as `JSON.stringify(renderTemplate(template, ctx))`, written directly: constant
 * parts are serialised once, values are read and serialised, never copied. A bad path throws
 * its TemplateError when rendered, as before.
 */
export function compileJsonTemplate(template: unknown): (ctx: TemplateContext) => string {
  const render = compileJson(template);
  if (typeof render === 'string') return () => render;
  return render;
}

/** JSON text, or how to write it for a context. */
type JsonWriter = string | ((ctx: TemplateContext) => string);

function pathReader(path: string): (ctx: TemplateContext) => unknown {
  let segments: string[];
  try {
    segments = parseDotPath(path);
  } catch (err) {
    return () => {
      throw err;
    };
  }
  return (ctx) => getPath(ctx, segments);
}

function compileJsonString(template: string): JsonWriter {
  const whole = wholePlaceholder.exec(template);
  if (whole) {
    const read = pathReader(whole[1] ?? '');
    // A missing value is an explicit null, as in renderString.
    return (ctx) => JSON.stringify(read(ctx) ?? null);
  }
  const parts: Array<string | ((ctx: TemplateContext) => unknown)> = [];
  let last = 0;
  for (const m of template.matchAll(anyPlaceholder)) {
    parts.push(template.slice(last, m.index), pathReader(m[1] ?? ''));
    last = m.index + m[0].length;
  }
  if (parts.length === 0) return JSON.stringify(template);
  parts.push(template.slice(last));
  return (ctx) => {
    let out = '';
    for (const p of parts) out += typeof p === 'string' ? p : stringify(p(ctx));
    return JSON.stringify(out);
  };
}

/** Joins writers into one: constant runs become one string. */
function joined(open: string, items: JsonWriter[], close: string): JsonWriter {
  if (items.every((i) => typeof i === 'string')) return open + items.join(',') + close;
  return (ctx) => {
    let out = open;
    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      out += (i > 0 ? ',' : '') + (typeof item === 'string' ? item : item(ctx));
    }
    return out + close;
  };
}

/** What JSON.stringify leaves out of an object (and writes as null in an array). */
const unserialisable = (v: unknown) => v === undefined || typeof v === 'function' || typeof v === 'symbol';

function compileJson(template: unknown): JsonWriter {
  if (typeof template === 'string') return compileJsonString(template);
  if (Array.isArray(template)) return joined('[', template.map((item) => (unserialisable(item) ? 'null' : compileJson(item))), ']');
  if (template !== null && typeof template === 'object') {
    // Own enumerable keys in order, as Object.entries (and renderValue's fromEntries) give them;
    // a "__proto__" key is just a key here too.
    const members = Object.entries(template).filter(([, v]) => !unserialisable(v)).map(([k, v]) => {
      const value = compileJson(v);
      const key = `${JSON.stringify(k)}:`;
      return typeof value === 'string' ? key + value : (ctx: TemplateContext) => key + value(ctx);
    });
    return joined('{', members, '}');
  }
  return JSON.stringify(template);
}

/**
 * A URL template compiled once per service: a URL without placeholders is parsed (and checked)
 * once; one with placeholders is rendered per call by `renderUrl`.
 */
export function compileUrl(template: string): (ctx: TemplateContext) => { origin: string; path: string } {
  if (!template.match(anyPlaceholder)) {
    let fixed: { origin: string; path: string };
    try {
      const url = renderUrl(template, {} as TemplateContext);
      fixed = { origin: url.origin, path: url.pathname + url.search };
    } catch (err) {
      return () => {
        throw err;
      };
    }
    return () => fixed;
  }
  return (ctx) => {
    const url = renderUrl(template, ctx);
    return { origin: url.origin, path: url.pathname + url.search };
  };
}

/** One placeholder found in a template, with where it is (for config error paths). */
export interface PlaceholderUse {
  at: Array<string | number>;
  path: string;
}

/** Every placeholder in a template, so config validation can check them before any request. */
export function placeholdersOf(template: unknown, at: Array<string | number> = []): PlaceholderUse[] {
  if (typeof template === 'string') {
    return [...template.matchAll(anyPlaceholder)].map((m) => ({ at, path: m[1] ?? '' }));
  }
  if (Array.isArray(template)) return template.flatMap((item, i) => placeholdersOf(item, [...at, i]));
  if (template !== null && typeof template === 'object') {
    return Object.entries(template).flatMap(([k, v]) => placeholdersOf(v, [...at, k]));
  }
  return [];
}

const contextShape: Record<string, readonly string[] | null> = {
  fields: null,
  traits: null,
  request: ['id', 'ip', 'user_agent'],
  identity: ['id', 'traits'],
  idempotency_key: [],
};

/**
 * Why a placeholder path cannot work for a service of `stage`, or null when it can. Used by
 * the config schema so a typo fails at start instead of rendering null at sign-up time.
 */
export function placeholderProblem(path: string, stage: 'before' | 'after' | 'existing_account'): string | null {
  let segments: string[];
  try {
    segments = parseDotPath(path);
  } catch (err) {
    return (err as Error).message;
  }
  const [root, second] = segments;
  const children = root === undefined ? undefined : contextShape[root];
  if (root === undefined || children === undefined) {
    return `placeholder "${path}" must start with fields, traits, request, identity or idempotency_key`;
  }
  if (root === 'identity' && stage === 'before') return `placeholder "${path}": the identity does not exist yet in the before stage`;
  if (root === 'identity' && stage === 'existing_account') return `placeholder "${path}": the existing_account stage does not read the existing identity (use traits)`;
  if (children !== null) {
    if (children.length === 0 && second !== undefined) return `placeholder "${path}": ${root} has no properties`;
    if (children.length > 0 && (second === undefined || !children.includes(second))) {
      return `placeholder "${path}": use ${children.map((c) => `${root}.${c}`).join(', ')}`;
    }
  }
  return null;
}
