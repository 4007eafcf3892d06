import { serve, type ServerType } from '@hono/node-server';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setNodeResponseHeader, watchNodeClient } from '../../src/runtime/node-client.ts';
import { appWithFakeKratos } from '../support/app.ts';

const SECRET = 'unit-test-session-secret-0123456789abcdef';
const signUp = { traits: { email: 'ada@example.com' }, password: 'correct-horse-battery-staple' };
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

function sourceFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? sourceFiles(path) : path.endsWith('.ts') ? [path] : [];
  });
}

describe('answer headers (src/shared/response.ts)', () => {
  it('are set only through setHeader / headersWillBeSet, so a JSON answer never drops one', () => {
    // jsonResponse builds its Response without Hono when nothing set a header for it: a bare
    // c.header() (or Hono's setCookie) anywhere else would be lost from such an answer.
    const offenders: string[] = [];
    for (const file of sourceFiles(join(import.meta.dirname, '../../src'))) {
      const lines = readFileSync(file, 'utf8').split('\n');
      lines.forEach((line, i) => {
        if (/^\s*(\/\/|\*)/.test(line)) return;
        const where = `${file.split('/src/')[1]}:${i + 1}`;
        if (/\bc\.header\(/.test(line) && !file.endsWith('src/shared/response.ts')) offenders.push(`${where} ${line.trim()}`);
        if (/\b(setCookie|deleteCookie)\(/.test(line) && !/headersWillBeSet\(c\);/.test(lines[i - 1] ?? '')) offenders.push(`${where} ${line.trim()}`);
      });
    }
    expect(offenders).toEqual([]);
  });

  it('carry the request id on every answer: made, echoed when plain, replaced when not', async () => {
    const { app } = appWithFakeKratos();
    const post = (headers: Record<string, string>, body: unknown = signUp) =>
      app.request('/v1/registration', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
    const ok = await post({});
    expect(ok.status).toBe(200);
    expect(ok.headers.get('content-type')).toBe('application/json');
    expect(ok.headers.get('x-request-id')).toMatch(UUID);
    expect((await post({ 'x-request-id': 'client-id_1=' })).headers.get('x-request-id')).toBe('client-id_1=');
    for (const bad of ['has space', 'x'.repeat(256), 'a;b']) expect((await post({ 'x-request-id': bad })).headers.get('x-request-id')).toMatch(UUID);
    const invalid = await post({ 'x-request-id': 'req-7' }, { traits: {} });
    expect(invalid.status).toBe(400);
    expect(invalid.headers.get('x-request-id')).toBe('req-7');
    expect(((await invalid.json()) as { request_id: string }).request_id).toBe('req-7');
    const missing = await app.request('/nowhere', { headers: { 'x-request-id': 'req-8' } });
    expect(missing.status).toBe(404);
    expect(missing.headers.get('x-request-id')).toBe('req-8');
  });

  it('keep what was set for the answer: the session cookie, CORS and the request id together', async () => {
    const { app } = appWithFakeKratos({ secrets: { session: [SECRET] }, session: { delivery: 'cookie' }, cors: { allowed_origins: ['https://app.example'] } });
    const res = await app.request('/v1/registration', {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: 'https://app.example', 'x-request-id': 'req-9' },
      body: JSON.stringify(signUp),
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('set-cookie')).toMatch(/^kbff_session=[^;]+;/);
    expect(res.headers.get('access-control-allow-origin')).toBe('https://app.example');
    expect(res.headers.get('x-request-id')).toBe('req-9');
    expect(res.headers.get('content-type')).toBe('application/json');
  });

  describe('over Node, where the request id is set on the ServerResponse', () => {
    let server: ServerType;
    let url: string;
    beforeAll(async () => {
      const { app } = appWithFakeKratos({}, { watchClient: watchNodeClient, setResponseHeader: setNodeResponseHeader, shutdownSignal: new AbortController().signal });
      await new Promise<void>((resolve) => {
        server = serve({ fetch: app.fetch, hostname: '127.0.0.1', port: 0 }, (info) => {
          url = `http://127.0.0.1:${info.port}`;
          resolve();
        });
      });
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it('sends it once on JSON answers, problems and answers Hono made', async () => {
      const ok = await fetch(`${url}/v1/registration`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-request-id': 'n-1' }, body: JSON.stringify(signUp) });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-request-id')).toBe('n-1');
      expect(ok.headers.get('content-type')).toBe('application/json');
      expect(Number(ok.headers.get('content-length'))).toBe((await ok.text()).length);
      const refused = await fetch(`${url}/v1/registration`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'x' });
      expect(refused.status).toBe(415);
      expect(refused.headers.get('x-request-id')).toMatch(UUID);
      const alive = await fetch(`${url}/health/alive`, { headers: { 'x-request-id': 'n-2' } });
      expect(alive.status).toBe(200);
      expect(alive.headers.get('x-request-id')).toBe('n-2');
    });
  });
});
