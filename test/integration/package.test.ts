import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { freePort } from '../../scripts/kratos.ts';
import { identitiesByEmail, uniqueEmail } from '../support/gateway.ts';

/**
 * The package as a user gets it: `npm pack` (which builds dist/lib through `prepack`), the
 * tarball installed into a scratch project next to hono and @hono/node-server, a TypeScript app
 * there that mounts the gateway under /auth with a service function, type-checked with strict
 * tsc (nodenext and bundler resolution), then run with node against the suite's real Kratos.
 * Nothing here is skipped: no network or a broken build fails the test with the command's output.
 */

const repo = join(import.meta.dirname, '../..');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');
// Only the scratch app's own .ts is transpiled by tsx; kratos-bff is loaded as the built JavaScript.
const tsxLoader = pathToFileURL(join(repo, 'node_modules/tsx/dist/esm/index.mjs')).href;
const version = (JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as { version: string }).version;
const PASSWORD = 'correct-horse-battery-staple';
const SESSION_SECRET = 'pack-test-session-secret-0123456789abcdef';
const LONG = 180_000;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to its end; with `check`, a non-zero exit throws with everything it printed. */
function run(cmd: string, args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv; check?: boolean }): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      if (options.check !== false && code !== 0) {
        reject(new Error(`${cmd} ${args.join(' ')} exited ${code}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`));
      } else resolve({ code, stdout, stderr });
    });
  });
}

/** A long-running child whose output is kept; stopped by its own pid in afterAll. */
interface Server {
  child: ChildProcess;
  output: () => string;
  exited: Promise<number | null>;
}

const servers: Server[] = [];

function startServer(args: string[], cwd: string, env: NodeJS.ProcessEnv): Server {
  const child = spawn(process.execPath, args, { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d) => (out += d));
  child.stderr!.on('data', (d) => (out += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const server = { child, output: () => out, exited };
  servers.push(server);
  return server;
}

/** Waits until `url` answers at all (any status), failing early if the server exits. */
async function waitForHttp(server: Server, url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void server.exited.then((c) => (exitCode = c));
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`server exited ${exitCode} before answering:\n${server.output()}`);
    if (await fetch(url).then(() => true, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`server did not answer ${url} within ${timeoutMs} ms:\n${server.output()}`);
}

/**
 * The scratch project's app is the README's "mounted in your own Hono app" example, verbatim:
 * the documented sample must type-check and sign up for real.
 */
function readmeApp(): string {
  const readme = readFileSync(join(repo, 'README.md'), 'utf8');
  const blocks = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
  const app = blocks.filter((b) => b.includes("app.route('/auth', gateway)") && b.includes('createGateway'));
  expect(app, 'README.md has one ```ts block that mounts createGateway at /auth').toHaveLength(1);
  return app[0]!;
}

// The package's types are real: were they `any`, these directives would be errors themselves.
const TYPE_CHECKS = `import { defineConfig, type ServiceFunction } from 'kratos-bff';
// @ts-expect-error: an unknown config key
defineConfig({ kratos: { public_url: 'http://k', admin_url: 'http://k' }, server: { base_pth: '/x' } });
// @ts-expect-error: not a service outcome
export const wrong: ServiceFunction = async () => ({ kind: 'okay' });
// @ts-expect-error: identity is optional (before services have none)
export const id: ServiceFunction = async (ctx) => ({ kind: 'ok', metadataPublic: { id: ctx.identity.id } });
`;

// The Node entry's types, checked too (not run: the bin covers the Node server).
const NODE_TYPES = `import { createNodeGateway, startNodeGateway, loadConfigFile, type NodeGateway } from 'kratos-bff/node';
import worker, { IdempotencyObject } from 'kratos-bff/worker';
import { Hono } from 'hono';
import { defineConfig } from 'kratos-bff';

const config = defineConfig({ kratos: { public_url: 'http://127.0.0.1:4433', admin_url: 'http://127.0.0.1:4434' } });
const { gateway, close } = createNodeGateway({ config });
new Hono().route('/', gateway);
export const started: Promise<NodeGateway> = startNodeGateway(config);
export const fromFile = loadConfigFile('gateway.yaml').server.base_path satisfies string;
export const handler: (r: Request, env: { GATEWAY_CONFIG: string }, ctx: never) => Response | Promise<Response> = worker.fetch;
export { IdempotencyObject, close };
`;

function tsconfig(resolution: 'nodenext' | 'bundler'): string {
  return JSON.stringify({
    compilerOptions: {
      strict: true,
      noEmit: true,
      target: 'es2022',
      module: resolution === 'nodenext' ? 'nodenext' : 'esnext',
      moduleResolution: resolution,
      // nodenext also checks every .d.ts (ours and our dependencies'): they must resolve.
      skipLibCheck: resolution === 'bundler',
      types: ['node'],
      typeRoots: [join(repo, 'node_modules/@types')],
    },
    files: ['app.ts', 'type-checks.ts', 'node-types.ts'],
  });
}

let dir: string;
let tarball: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kratos-bff-pack-'));
  // `prepack` builds dist/lib first, so this also proves the build works from a clean tree.
  await run('npm', ['pack', '--pack-destination', dir], { cwd: repo });
  tarball = join(dir, `kratos-bff-${version}.tgz`);
  expect(existsSync(tarball), `npm pack wrote ${tarball}`).toBe(true);
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'scratch', private: true, type: 'module' }));
  writeFileSync(join(dir, 'app.ts'), readmeApp());
  writeFileSync(join(dir, 'type-checks.ts'), TYPE_CHECKS);
  writeFileSync(join(dir, 'node-types.ts'), NODE_TYPES);
  writeFileSync(join(dir, 'tsconfig.json'), tsconfig('nodenext'));
  writeFileSync(join(dir, 'tsconfig.bundler.json'), tsconfig('bundler'));
  await run('npm', ['install', tarball, 'hono', '@hono/node-server', '--prefer-offline', '--no-audit', '--no-fund'], { cwd: dir });
}, LONG);

afterAll(async () => {
  for (const s of servers) {
    if (s.child.exitCode === null && s.child.signalCode === null) s.child.kill('SIGKILL');
  }
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('the packed kratos-bff', () => {
  it('ships the built entries, the bin and the example config, and no sources or tests', async () => {
    const { stdout } = await run('tar', ['-tzf', tarball], { cwd: dir });
    const files = stdout.split('\n').filter(Boolean);
    for (const f of ['index.js', 'index.d.ts', 'runtime/node-index.js', 'runtime/node-index.d.ts', 'runtime/worker.js', 'runtime/node-cli.js']) {
      expect(files).toContain(`package/dist/lib/${f}`);
    }
    expect(files).toContain('package/config/gateway.yaml');
    expect(files).toContain('package/README.md');
    expect(files.filter((f) => /\.ts$/.test(f) && !f.endsWith('.d.ts'))).toEqual([]);
    expect(files.filter((f) => /(^|\/)(test|src|bench|scripts)\//.test(f))).toEqual([]);
    // The .d.ts files import .js, like the JavaScript.
    const dts = readFileSync(join(dir, 'node_modules/kratos-bff/dist/lib/gateway.d.ts'), 'utf8');
    expect(dts).toMatch(/from '\.\/app\.js'/);
    expect(dts).not.toMatch(/from '\.[^']*\.ts'/);
  });

  it('type-checks an app that mounts it, with strict tsc (nodenext and bundler resolution)', async () => {
    const [nodenext, bundler] = await Promise.all([
      run(process.execPath, [tsc, '-p', 'tsconfig.json'], { cwd: dir, check: false }),
      run(process.execPath, [tsc, '-p', 'tsconfig.bundler.json'], { cwd: dir, check: false }),
    ]);
    expect(nodenext.stdout + nodenext.stderr, 'tsc nodenext').toBe('');
    expect(nodenext.code).toBe(0);
    expect(bundler.stdout + bundler.stderr, 'tsc bundler').toBe('');
    expect(bundler.code).toBe(0);
  }, LONG);

  it('signs up through the gateway mounted at /auth, against the real Kratos, with the TypeScript service', async () => {
    const kratos = inject('kratos');
    const port = await freePort();
    const app = startServer(['--import', tsxLoader, 'app.ts'], dir, {
      ...process.env,
      PORT: String(port),
      KRATOS_PUBLIC_URL: kratos.publicUrl,
      KRATOS_ADMIN_URL: kratos.adminUrl,
      SESSION_SECRET,
    });
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(app, `${base}/`);

    // The user's own route is untouched.
    expect(await (await fetch(`${base}/`)).text()).toBe('my app');

    const email = uniqueEmail('pack');
    const res = await fetch(`${base}/auth/v1/registration`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ traits: { email }, password: PASSWORD, fields: { plan: 'pro' } }),
    });
    const body = (await res.json()) as { identity?: { id: string }; session_token?: string };
    expect(res.status, JSON.stringify(body)).toBe(200);
    const id = body.identity!.id;
    expect(body.session_token).toBeUndefined();

    // Cookie delivery (the config's default); the cookie belongs to the mount: Path=/auth.
    const setCookie = res.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^kbff_session=[^;]+;/);
    expect(setCookie).toMatch(/; Path=\/auth(;|$)/);
    expect(setCookie).toMatch(/HttpOnly/);

    // Kratos has the identity, with the metadata the TypeScript service returned.
    const found = await identitiesByEmail(kratos.adminUrl, email);
    expect(found.map((i) => i.id)).toEqual([id]);
    const identity = (await (await fetch(`${kratos.adminUrl}/admin/identities/${id}`)).json()) as { metadata_public?: unknown };
    expect(identity.metadata_public).toEqual({ plan: 'pro' });
    // The service function ran once, in the scratch app, for this identity.
    expect(app.output().split('\n').filter((l) => l.startsWith('welcome '))).toEqual([`welcome ${id} pro`]);

    // The cookie opens the session under the prefix.
    const cookie = setCookie.split(';')[0]!;
    const who = await fetch(`${base}/auth/v1/session`, { headers: { cookie } });
    expect(who.status).toBe(200);
    expect(((await who.json()) as { session: { identity: { id: string } } }).session.identity.id).toBe(id);

    // OpenAPI tells clients where the paths are.
    const doc = (await (await fetch(`${base}/auth/openapi.json`)).json()) as { servers?: Array<{ url: string }>; paths: Record<string, unknown> };
    expect(doc.servers).toEqual([{ url: '/auth' }]);
    expect(Object.keys(doc.paths)).toContain('/v1/registration');

    // Unknown paths under the prefix are the gateway's problem+json, not the host app's 404.
    const missing = await fetch(`${base}/auth/v1/nope`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get('content-type')).toBe('application/problem+json');
    expect(((await missing.json()) as { code: string }).code).toBe('NOT_FOUND');

    // Its logs are JSON lines with the mounted path, and no password or token.
    const logs = app.output();
    expect(logs).toContain('"path":"/auth/v1/registration"');
    expect(logs).not.toContain(PASSWORD);
    expect(logs).not.toMatch(/ory_st_[A-Za-z0-9]{8,}/);
  }, LONG);

  it('runs the kratos-bff bin: exit 2 on a bad config, and serves under server.base_path', async () => {
    const bin = join(dir, 'node_modules/kratos-bff/dist/lib/runtime/node-cli.js');
    writeFileSync(join(dir, 'bad.yaml'), 'kratos: { public_url: nope, admin_url: http://127.0.0.1:1 }\n');
    const bad = await run(join(dir, 'node_modules/.bin/kratos-bff'), ['--config', 'bad.yaml'], { cwd: dir, check: false });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('kratos.public_url: must be an http(s) URL');
    const unknownFlag = await run(process.execPath, [bin, '--confgi', 'x.yaml'], { cwd: dir, check: false });
    expect(unknownFlag.code).toBe(2);
    expect(unknownFlag.stderr).toContain('usage: kratos-bff');

    const kratos = inject('kratos');
    const port = await freePort();
    writeFileSync(
      join(dir, 'gateway.yaml'),
      `server: { host: 127.0.0.1, port: ${port}, base_path: /auth }\nkratos: { public_url: '${kratos.publicUrl}', admin_url: '${kratos.adminUrl}' }\n`,
    );
    const server = startServer([bin, '--config', 'gateway.yaml'], dir, process.env);
    const base = `http://127.0.0.1:${port}`;
    await waitForHttp(server, `${base}/auth/health/alive`);
    expect((await fetch(`${base}/auth/health/ready`)).status).toBe(200);
    const doc = (await (await fetch(`${base}/auth/openapi.json`)).json()) as { servers?: unknown };
    expect(doc.servers).toEqual([{ url: '/auth' }]);
    // Outside the base path: the gateway's own 404, with a request id.
    const outside = await fetch(`${base}/v1/registration`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
    expect(outside.status).toBe(404);
    expect(outside.headers.get('content-type')).toBe('application/problem+json');
    expect(outside.headers.get('x-request-id')).toBeTruthy();

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);
  }, LONG);
});
