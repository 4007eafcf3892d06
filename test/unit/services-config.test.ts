import { describe, expect, it } from 'vitest';
import { formatPath } from '../../src/config.ts';
import { servicesConfigSchema } from '../../src/services/config.ts';

function problemsOf(input: unknown): string[] {
  const result = servicesConfigSchema.safeParse(input);
  if (result.success) throw new Error('expected problems');
  return result.error.issues.map((i) => `${formatPath(i.path)}: ${i.message}`);
}

describe('servicesConfigSchema', () => {
  it('fills defaults, with on_failure depending on the stage', () => {
    const [before, after] = servicesConfigSchema.parse([
      { name: 'vat_check', stage: 'before', http: { url: 'https://vat.example/check/{{ fields.vat_id }}', method: 'GET' } },
      { name: 'crm', stage: 'after', http: { url: 'https://crm.example/contacts', headers: { 'X-Api-Key': 'k' }, body: { id: '{{ identity.id }}' } } },
    ]);
    expect(before).toMatchObject({ concurrent: false, timeout_ms: 5000, retries: 2, retry_backoff_ms: 200, on_failure: 'abort', rejected_statuses: [400, 409, 422] });
    expect(after).toMatchObject({ on_failure: 'rollback', http: { method: 'POST', headers: { 'x-api-key': 'k' } } });
    expect(servicesConfigSchema.parse(undefined)).toEqual([]);
  });

  it('accepts function services, fixed and body rejections, and save on after services', () => {
    const parsed = servicesConfigSchema.parse([
      { name: 'kyc', stage: 'before', function: 'kycCheck' },
      { name: 'vat', stage: 'before', http: { url: 'https://vat.example/' }, rejection: { pointer: '/fields/vat_id', message: 'Unknown VAT number.', code: 'INVALID_VALUE' } },
      { name: 'addr', stage: 'before', http: { url: 'https://addr.example/' }, rejection: { from_body: { errors_path: 'errors' } } },
      { name: 'crm', stage: 'after', on_failure: 'continue', http: { url: 'https://crm.example/' }, save: { metadata_public: { crm_id: 'data.id' }, metadata_admin: { tier: 'data.tier' } } },
      { name: 'mail', stage: 'after', on_failure: 'retry_later', http: { url: 'https://mail.example/' } },
    ]);
    expect(parsed[2]!.rejection).toEqual({ from_body: { errors_path: 'errors', pointer_key: 'pointer', message_key: 'message' } });
    expect(parsed.map((s) => s.on_failure)).toEqual(['abort', 'abort', 'abort', 'continue', 'retry_later']);
  });

  it('names the key path of every problem, with clear messages', () => {
    expect(
      problemsOf([
        { name: 'Bad-Name', stage: 'during', http: { url: 'ftp://x' } },
        { name: 'vat', stage: 'before', on_failure: 'rollback', http: { url: 'https://x.example/', headers: { 'Idempotency-Key': 'x', 'x-ok': 'a\r\nb' } }, save: { metadata_public: { a: 'b' } } },
        { name: 'vat', stage: 'after', on_failure: 'abort', http: { url: 'https://{{ fields.host }}/x', body: { a: '{{ password }}', b: '{{ fields.__proto__ }}' }, method: 'GET' } },
        { name: 'both', stage: 'after', http: { url: 'https://x.example/' }, function: 'f' },
        { name: 'neither', stage: 'after' },
        { name: 'fn', stage: 'before', function: 'f', rejected_statuses: [400], rejection: { pointer: '', message: 'no' } },
        { name: 'rej', stage: 'before', http: { url: 'https://x.example/{{ identity.id }}' }, rejected_statuses: [429, 503], rejection: { pointer: 'vat' } },
        { name: 'later', stage: 'after', on_failure: 'retry_later', http: { url: 'https://x.example/' }, save: { metadata_admin: { a: 'x' } } },
      ]),
    ).toEqual([
      '[0].name: service names are lower_snake_case, at most 64 characters',
      '[0].stage: must be "before", "after" or "existing_account"',
      '[0].http.url: must be an http(s) URL',
      '[1].http.headers.x-ok: must not contain CR, LF or NUL',
      '[1].on_failure: a before service can only abort (nothing exists yet to roll back or keep)',
      '[1].save: is only possible for after services (metadata needs the identity)',
      '[2].http.url: placeholders are allowed in the path and query only, after a fixed http(s)://host/',
      '[2].http.body: a GET request cannot have a body',
      '[2].on_failure: an after service uses rollback, continue or retry_later (the identity exists already)',
      '[2].http.body.a: placeholder "password" must start with fields, traits, request, identity or idempotency_key',
      '[2].http.body.b: path "fields.__proto__" uses the forbidden segment "__proto__"',
      '[3]: give exactly one of http or function',
      '[4]: give exactly one of http or function',
      '[5].rejected_statuses: applies to http services only',
      '[5].rejection: applies to http services only',
      '[6].rejected_statuses[0]: 429 means "retry later", not a rejection',
      '[6].rejected_statuses[1]: rejected statuses are 4xx',
      '[6].rejection.pointer: must be a JSON pointer ("" or starting with "/")',
      '[6].rejection.message: is required with a fixed rejection',
      '[6].http.url: placeholder "identity.id": the identity does not exist yet in the before stage',
      '[7].save: cannot be combined with on_failure: retry_later',
    ]);
  });

  it('refuses duplicate names and headers the gateway sets itself', () => {
    expect(
      problemsOf([
        { name: 'vat', stage: 'before', http: { url: 'https://a.example/', headers: { 'Idempotency-Key': 'x', 'X-Request-Id': 'y', 'Content-Type': 'text/plain' } } },
        { name: 'vat', stage: 'after', http: { url: 'https://b.example/' } },
      ]),
    ).toEqual([
      '[0].http.headers.idempotency-key: is set by the gateway',
      '[0].http.headers.x-request-id: is set by the gateway',
      '[0].http.headers.content-type: is set by the gateway',
      '[1].name: "vat" is already the name of service 0',
    ]);
  });

  it('refuses two services saving the same metadata key, and both rejection forms at once', () => {
    expect(
      problemsOf([
        { name: 'a', stage: 'after', http: { url: 'https://a.example/' }, save: { metadata_public: { crm_id: 'id' } } },
        { name: 'b', stage: 'after', http: { url: 'https://b.example/' }, save: { metadata_public: { crm_id: 'data.id' } } },
        { name: 'c', stage: 'before', http: { url: 'https://c.example/' }, rejection: { pointer: '', message: 'x', from_body: { errors_path: 'e' } } },
        { name: 'd', stage: 'before', http: { url: 'https://d.example/' }, rejection: {} },
        { name: 'e', stage: 'after', http: { url: 'https://e.example/' }, save: { metadata_public: { x: 'a..b' } } },
      ]),
    ).toEqual([
      '[2].rejection: give either pointer + message, or from_body, not both',
      '[3].rejection: give either pointer + message, or from_body',
      expect.stringMatching(/^\[4\]\.save\.metadata_public\.x: must be a dot path/),
      '[1].save.metadata_public.crm_id: is already saved by service "a"',
    ]);
  });

  it('never puts a header value in an error message', () => {
    const secret = 'sk_live_do_not_print\n';
    const problems = problemsOf([{ name: 'a', stage: 'before', http: { url: 'https://a.example/', headers: { 'X-Api-Key': secret, 'bad name': secret } } }]);
    expect(problems.length).toBeGreaterThan(0);
    expect(problems.join('\n')).not.toContain('sk_live');
  });
});
