import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  compileJsonTemplate,
  compileUrl,
  getPath,
  parseDotPath,
  placeholderProblem,
  placeholdersOf,
  renderTemplate,
  renderUrl,
  TemplateError,
  type TemplateContext,
} from '../../src/services/template.ts';

const ctx: TemplateContext = {
  fields: { company: 'Analytical Engines', seats: 12, accept_terms: true, address: { city: 'London', lines: ['1 Main St'] }, vat_id: 'GB 1/2?x=y#z' },
  traits: { email: 'ada@example.com', name: { first: 'Ada' } },
  request: { id: 'req-1', ip: '203.0.113.9', user_agent: 'curl/8' },
  identity: { id: 'id-123', traits: { email: 'ada@example.com' } },
  idempotency_key: 'key-1',
};

describe('renderTemplate', () => {
  it('keeps the type of a value that fills a whole string', () => {
    expect(
      renderTemplate(
        { n: '{{ fields.seats }}', b: '{{fields.accept_terms}}', o: '{{ fields.address }}', s: '{{ traits.name.first }}', i: '{{ fields.address.lines.0 }}', k: '{{ idempotency_key }}' },
        ctx,
      ),
    ).toEqual({ n: 12, b: true, o: { city: 'London', lines: ['1 Main St'] }, s: 'Ada', i: '1 Main St', k: 'key-1' });
  });

  it('stringifies placeholders inside longer strings', () => {
    expect(renderTemplate('{{ fields.company }} has {{fields.seats}} seats, terms={{ fields.accept_terms }}, at {{ fields.address.city }}', ctx)).toBe(
      'Analytical Engines has 12 seats, terms=true, at London',
    );
    expect(renderTemplate('addr: {{ fields.address }}', ctx)).toBe('addr: {"city":"London","lines":["1 Main St"]}');
  });

  it('renders a missing path as null when whole and "" inside a string', () => {
    expect(renderTemplate({ a: '{{ fields.nope }}', b: 'x{{ fields.nope.deeper }}y', c: '{{ identity.id }}' }, { ...ctx, identity: undefined })).toEqual({ a: null, b: 'xy', c: null });
  });

  it('walks arrays and nested objects, leaves other values and keys alone, and does not mutate the template', () => {
    const template = { list: ['{{ request.id }}', 3, null, false], nested: { '{{ fields.company }}': '{{ request.ip }}' } };
    const copy = structuredClone(template);
    expect(renderTemplate(template, ctx)).toEqual({ list: ['req-1', 3, null, false], nested: { '{{ fields.company }}': '203.0.113.9' } });
    expect(template).toEqual(copy);
  });

  it('returns copies, so the rendered body cannot alias the context', () => {
    const out = renderTemplate({ a: '{{ fields.address }}' }, ctx) as { a: { city: string } };
    out.a.city = 'Paris';
    expect((ctx.fields.address as { city: string }).city).toBe('London');
  });

  it('refuses prototype segments instead of reading them', () => {
    for (const path of ['fields.__proto__', 'fields.constructor', 'traits.constructor.prototype', '__proto__.polluted']) {
      expect(() => renderTemplate(`{{ ${path} }}`, ctx)).toThrow(TemplateError);
      expect(() => renderTemplate(`x {{ ${path} }}`, ctx)).toThrow(TemplateError);
    }
  });

  it('only reads own properties', () => {
    expect(renderTemplate('{{ fields.toString }}', ctx)).toBeNull();
    expect(renderTemplate('{{ fields.hasOwnProperty }}', ctx)).toBeNull();
    expect(getPath({ a: Object.create({ inherited: 1 }) }, 'a.inherited')).toBeUndefined();
  });

  it('keeps a literal "__proto__" key of the template as data', () => {
    const template = JSON.parse('{"__proto__": {"polluted": "{{ request.id }}"}}');
    const out = renderTemplate(template, ctx) as Record<string, unknown>;
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.hasOwn(out, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(JSON.stringify(out)).toBe('{"__proto__":{"polluted":"req-1"}}');
  });

  it('is not an expression language', () => {
    expect(() => renderTemplate('{{ fields.seats + 1 }}', ctx)).toThrow(TemplateError);
    expect(() => renderTemplate('{{ this.constructor.constructor("return 1")() }}', ctx)).toThrow(TemplateError);
    expect(() => parseDotPath('a..b')).toThrow(TemplateError);
    expect(() => parseDotPath('')).toThrow(TemplateError);
  });
});

describe('renderUrl', () => {
  it('URL-encodes every substituted value', () => {
    const url = renderUrl('https://vat.example/check/{{ fields.vat_id }}?who={{ traits.email }}&n={{ fields.seats }}', ctx);
    expect(url.origin).toBe('https://vat.example');
    expect(url.pathname).toBe('/check/GB%201%2F2%3Fx%3Dy%23z');
    expect(url.search).toBe('?who=ada%40example.com&n=12');
  });

  it('refuses values that would form a dot segment', () => {
    for (const value of ['..', '.']) {
      expect(() => renderUrl('https://x.example/a/{{ fields.v }}/b', { ...ctx, fields: { v: value } })).toThrow(TemplateError);
    }
    // A fixed dot next to the placeholder counts too.
    expect(() => renderUrl('https://x.example/a/.{{ fields.v }}', { ...ctx, fields: { v: '.' } })).toThrow(TemplateError);
    // An encoded dot is encoded again, so it stays data.
    expect(renderUrl('https://x.example/a/{{ fields.v }}', { ...ctx, fields: { v: '%2e%2e' } }).pathname).toBe('/a/%252e%252e');
    expect(renderUrl('https://x.example/a/{{ fields.v }}', { ...ctx, fields: { v: '...' } }).pathname).toBe('/a/...');
    expect(renderUrl('https://x.example/a?q={{ fields.v }}', { ...ctx, fields: { v: '..' } }).search).toBe('?q=..');
  });
});

describe('placeholder checks for the config', () => {
  it('lists placeholders with their location', () => {
    expect(placeholdersOf({ a: ['x {{ fields.a }} {{traits.b}}'], b: 1 })).toEqual([
      { at: ['a', 0], path: 'fields.a' },
      { at: ['a', 0], path: 'traits.b' },
    ]);
  });

  it('explains paths that cannot work', () => {
    expect(placeholderProblem('fields.company', 'before')).toBeNull();
    expect(placeholderProblem('identity.id', 'after')).toBeNull();
    expect(placeholderProblem('identity.id', 'before')).toMatch(/does not exist yet/);
    expect(placeholderProblem('password', 'before')).toMatch(/must start with fields/);
    expect(placeholderProblem('request.cookie', 'before')).toMatch(/use request.id, request.ip, request.user_agent/);
    expect(placeholderProblem('idempotency_key.x', 'before')).toMatch(/has no properties/);
    expect(placeholderProblem('fields.__proto__', 'before')).toMatch(/forbidden segment/);
  });
});

describe('compiled templates (issue 16): the same request as rendering per attempt', () => {
  // Placeholders that resolve (to strings, numbers, objects, arrays), miss, or are invalid paths.
  const placeholder = fc.constantFrom(
    '{{ traits.email }}',
    '{{fields.seats}}',
    '{{ fields.address }}',
    '{{ fields.address.lines }}',
    '{{ fields.nope }}',
    '{{ identity.id }}',
    '{{ request.ip }}',
    '{{ idempotency_key }}',
  );
  const text = fc.oneof(
    fc.string({ maxLength: 8 }),
    placeholder,
    fc.tuple(fc.string({ maxLength: 4 }), placeholder, fc.string({ maxLength: 4 }), placeholder).map((p) => p.join('')),
  );
  const template = fc.letrec((tie) => ({
    value: fc.oneof({ depthSize: 'small' }, text, fc.integer(), fc.boolean(), fc.constant(null), tie('array'), tie('object')),
    array: fc.array(tie('value'), { maxLength: 4 }),
    object: fc.dictionary(fc.oneof(fc.string({ maxLength: 6 }), fc.constant('__proto__')), tie('value'), { maxKeys: 4 }),
  })).value;

  it('compileJsonTemplate(t)(ctx) is JSON.stringify(renderTemplate(t, ctx)) for any template', () => {
    fc.assert(
      fc.property(template, fc.boolean(), (t, withIdentity) => {
        const c = withIdentity ? ctx : { ...ctx, identity: undefined };
        expect(compileJsonTemplate(t)(c)).toBe(JSON.stringify(renderTemplate(t, c)));
      }),
      { numRuns: 2000 },
    );
  });

  it('leaves out undefined members and writes undefined items as null, like JSON.stringify', () => {
    const t = { a: undefined, b: [undefined, '{{ traits.email }}'], c: '{{ fields.nope }}' };
    expect(compileJsonTemplate(t)(ctx)).toBe(JSON.stringify(renderTemplate(t, ctx)));
    expect(compileJsonTemplate(t)(ctx)).toBe('{"b":[null,"ada@example.com"],"c":null}');
  });

  it('an invalid path still fails when rendered, not when compiled', () => {
    const render = compileJsonTemplate({ a: '{{ fields.__proto__ }}' });
    expect(() => render(ctx)).toThrow(TemplateError);
  });

  it('compileUrl: a URL without placeholders is checked once; placeholders are encoded per call', () => {
    expect(compileUrl('https://svc.example/v1/check?x=1')(ctx)).toEqual({ origin: 'https://svc.example', path: '/v1/check?x=1' });
    expect(compileUrl('https://svc.example/v1/{{ fields.vat_id }}')(ctx)).toEqual({ origin: 'https://svc.example', path: `/v1/${encodeURIComponent('GB 1/2?x=y#z')}` });
    expect(() => compileUrl('https://svc.example/{{ fields.dots }}/x')({ ...ctx, fields: { dots: '..' } })).toThrow(TemplateError);
  });
});
