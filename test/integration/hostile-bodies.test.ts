import { execFile } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HttpRequest } from '../../src/shared/http.ts';
import { identitiesByEmail, postJson, registerSecret, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

/**
 * Issue 9, "nothing half-made at every edge": bodies the gateway cannot read, and bodies whose
 * errors used to echo what the client sent, through the real Node gateway in front of the real
 * Kratos, sent with curl exactly as in the bug reports.
 */

const SECRET = 'hunter2-very-secret';
registerSecret(SECRET);

const run = promisify(execFile);

/** Runs curl with `args` (after `-si`) and splits its output into status, headers and body. */
async function curl(...args: string[]): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const { stdout } = await run('curl', ['-si', ...args]);
  const [head = '', ...rest] = stdout.split('\r\n\r\n');
  const [statusLine = '', ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: rest.join('\r\n\r\n') };
}

const upstreamCalls: HttpRequest[] = [];
let gw: TestGateway;
// `{"é":1}` with "é" in ISO-8859-1 (0xE9): not UTF-8. A file, because curl's arguments are text.
const latin1File = join(tmpdir(), `kbff-latin1-${process.pid}.json`);

beforeAll(async () => {
  writeFileSync(latin1File, Uint8Array.from([0x7b, 0x22, 0xe9, 0x22, 0x3a, 0x31, 0x7d]));
  gw = await startTestGateway({
    // With a session secret HTML form posts are served (cookie + 303), so form bodies are read.
    config: {
      secrets: { session: ['hostile-bodies-integration-secret-0123456789'] },
      selfservice: { registration: { after: { password: [{ job: 'session' }, { job: 'redirect', config: { redirect_to: 'https://app.example.com/welcome' } }] } } },
    },
    wrapTransport: (t) => async (req) => {
      upstreamCalls.push(req);
      return t(req);
    },
  });
});
afterAll(async () => {
  rmSync(latin1File, { force: true });
  await gw?.close();
});

describe('regression: a password is echoed back in an error (issue 9, defect 3), real gateway and Kratos', () => {
  it(`curl -s /v1/login -d '{"identifier":…,"password":"${SECRET}"}': 415 that says the body is JSON, no echo, no Kratos call`, async () => {
    const calls = upstreamCalls.length;
    const res = await curl(`${gw.url}/v1/login`, '-d', `{"identifier":"ada@example.com","password":"${SECRET}"}`);
    expect(res.status).toBe(415);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body)).toMatchObject({
      code: 'UNSUPPORTED_MEDIA_TYPE',
      detail: 'The body is JSON but Content-Type says application/x-www-form-urlencoded; send Content-Type: application/json.',
      errors: [],
    });
    expect(res.body).not.toContain(SECRET);
    expect(upstreamCalls.length).toBe(calls);
  });

  it('the same JSON-as-form sign-up: 415, no echo, and no identity', async () => {
    const email = uniqueEmail('json-as-form');
    const res = await curl(`${gw.url}/v1/registration`, '-d', `{"traits":{"email":"${email}"},"password":"${SECRET}"}`);
    expect(res.status).toBe(415);
    expect(res.body).not.toContain(SECRET);
    expect(res.body).not.toContain(email);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toEqual([]);
  });

  it("Kratos's own messages that quote the submitted data are not passed on (trait name, email value)", async () => {
    const unknownTrait = await postJson(`${gw.url}/v1/registration`, { traits: { email: uniqueEmail('trait'), [SECRET]: 1 }, password: 'correct-horse-battery-staple' });
    expect(unknownTrait.status).toBe(400);
    expect(unknownTrait.body.errors).toEqual([{ pointer: '/traits', code: 'UNKNOWN_FIELD', message: 'The request contains a property that is not allowed.', kratos: { id: 4000001 } }]);
    expect(JSON.stringify(unknownTrait.body)).not.toContain(SECRET);

    const badEmail = await postJson(`${gw.url}/v1/registration`, { traits: { email: SECRET }, password: 'correct-horse-battery-staple' });
    expect(badEmail.status).toBe(400);
    expect(badEmail.body.errors).toEqual([{ pointer: '/traits/email', code: 'INVALID_EMAIL', message: 'The value is not a valid email address.', kratos: { id: 4000001 } }]);
    expect(JSON.stringify(badEmail.body)).not.toContain(SECRET);
  });
});

describe('regression: a malformed multipart or form body gives 500 (issue 9, defect 4), real gateway', () => {
  it("curl -si /v1/registration -H 'Content-Type: multipart/form-data; boundary=x' --data-binary junk: 400 INVALID_BODY", async () => {
    const calls = upstreamCalls.length;
    const res = await curl(`${gw.url}/v1/registration`, '-H', 'Content-Type: multipart/form-data; boundary=x', '--data-binary', 'junk');
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toBe('application/problem+json');
    const problem = JSON.parse(res.body);
    expect(problem).toMatchObject({ status: 400, code: 'INVALID_BODY', detail: 'The request body could not be parsed as multipart/form-data.' });
    expect(problem.request_id).toBe(res.headers['x-request-id']);
    expect(upstreamCalls.length).toBe(calls);
    expect(gw.logs.some((l) => l.includes('unhandled error'))).toBe(false);
  });

  it.each([
    ['login, junk multipart', '/v1/login', ['-H', 'Content-Type: multipart/form-data; boundary=x', '--data-binary', 'junk'], 400, 'INVALID_BODY'],
    ['form names nested 40 deep', '/v1/registration', ['-d', `${'a.'.repeat(40)}b=1`], 400, 'INVALID_BODY'],
    ['ISO-8859-1 JSON', '/v1/registration', ['-H', 'Content-Type: application/json; charset=iso-8859-1', '--data-binary', `@${latin1File}`], 400, 'INVALID_JSON'],
    ['JSON nested 10000 deep', '/v1/registration', ['-H', 'Content-Type: application/json', '--data-binary', `{"traits":{"x":${'['.repeat(10_000)}${']'.repeat(10_000)}},"password":"p"}`], 400, 'INVALID_BODY'],
    ['text/plain', '/v1/login', ['-H', 'Content-Type: text/plain', '--data-binary', 'identifier=a'], 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ])('%s on %s: a problem with its own code, never a 500', async (_name, path, args, status, code) => {
    const res = await curl(`${gw.url}${path}`, ...args);
    expect(res.status).toBe(status);
    expect(res.headers['content-type']).toBe('application/problem+json');
    expect(JSON.parse(res.body).code).toBe(code);
  });

  it('a well-formed HTML form sign-up still goes through to Kratos (303 and a cookie)', async () => {
    const email = uniqueEmail('form');
    const res = await curl(`${gw.url}/v1/registration`, '--data-urlencode', `traits.email=${email}`, '--data-urlencode', 'password=correct-horse-battery-staple');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('https://app.example.com/welcome');
    expect(res.headers['set-cookie']).toMatch(/^kbff_session=/);
    expect(await identitiesByEmail(gw.kratos.adminUrl, email)).toHaveLength(1);
  });
});
