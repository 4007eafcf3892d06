import type { TestProject } from 'vitest/node';
import { startKratos, type KratosInstance } from '../../scripts/kratos.ts';
import { ensureRedisServer, startRedis, type RedisInstance } from '../../scripts/redis.ts';
import { ensureChromiumForTests } from '../support/chromium.ts';
import { recordingHookOverlay, startHookRecorder } from '../support/hook-recorder.ts';

/**
 * Starts the real Kratos for the integration suite (once per run), or uses the one named by
 * KRATOS_PUBLIC_URL/KRATOS_ADMIN_URL (e.g. Kratos in Docker). There is no fallback: if
 * neither works, the suite fails here with what to do about it.
 */

export interface KratosUrls {
  publicUrl: string;
  adminUrl: string;
}

declare module 'vitest' {
  export interface ProvidedContext {
    kratos: KratosUrls;
    /** A second Kratos whose registration and login flows expire after 1 second. */
    kratosShortLifespan: KratosUrls;
    /** Where the main Kratos's registration web_hook reports (see test/support/hook-recorder.ts). */
    hookRecorderUrl: string;
    /** A redis-server of this run (redis://127.0.0.1:port), shared by the tests: use a unique key prefix. */
    redis: string;
  }
}

export const SHORT_LIFESPAN_MS = 1000;

async function external(prefix: string): Promise<KratosUrls | undefined> {
  const publicUrl = process.env[`${prefix}_PUBLIC_URL`];
  const adminUrl = process.env[`${prefix}_ADMIN_URL`];
  if (!publicUrl && !adminUrl) return undefined;
  if (!publicUrl || !adminUrl) {
    throw new Error(`Set both ${prefix}_PUBLIC_URL and ${prefix}_ADMIN_URL, or neither (then the test setup builds and starts Kratos itself).`);
  }
  for (const url of [`${publicUrl}/health/ready`, `${adminUrl}/admin/health/ready`]) {
    const ok = await fetch(url).then((r) => r.ok, () => false);
    if (!ok) {
      throw new Error(`${url} is not ready. Start that Kratos (with config/kratos/kratos.yml), or unset ${prefix}_PUBLIC_URL/${prefix}_ADMIN_URL to let the test setup run its own.`);
    }
  }
  return { publicUrl: publicUrl.replace(/\/+$/, ''), adminUrl: adminUrl.replace(/\/+$/, '') };
}

async function local(env: Record<string, string> = {}, overlay?: Record<string, unknown>): Promise<KratosInstance> {
  try {
    return await startKratos({ env, ...(overlay ? { overlay } : {}), log: (l) => console.error(l) });
  } catch (err) {
    throw new Error(
      `The integration tests need a real Kratos and could not start one:\n${(err as Error).message}\n\n` +
        'Fix: install Go (the setup builds Kratos from the Go module proxy on first run), ' +
        'or run Kratos yourself with config/kratos/kratos.yml and set KRATOS_PUBLIC_URL and KRATOS_ADMIN_URL.',
    );
  }
}

export default async function setup(project: TestProject) {
  const started: KratosInstance[] = [];
  // Real Redis for the shared-state tests: installed from apt when missing; no fallback.
  ensureRedisServer();
  const redis: RedisInstance = await startRedis();
  // The browser test (integration project) needs Chromium: installed from apt when missing,
  // while Kratos builds and starts. A failure is printed at once and thrown once Kratos is
  // up, so the Kratos processes are stopped rather than left behind.
  const browser: Promise<unknown> =
    project.name === 'integration'
      ? ensureChromiumForTests().then(
          () => undefined,
          (err: unknown) => (console.error(`chromium: ${(err as Error).message}`), err),
        )
      : Promise.resolve(undefined);
  // The main Kratos calls this recorder from a real web_hook on every registration. An
  // external Kratos must be configured with the same hook (KRATOS_HOOK_RECORDER_URL names
  // where it reports) for the transient_payload test.
  const recorder = await startHookRecorder();
  const recorderUrl = process.env.KRATOS_HOOK_RECORDER_URL ?? recorder.url;
  const lifespan = `${SHORT_LIFESPAN_MS / 1000}s`;
  const kratosPair = Promise.all([
    external('KRATOS').then(async (e) => e ?? started[started.push(await local({}, recordingHookOverlay(recorder.url))) - 1]!),
    external('KRATOS_SHORT_LIFESPAN').then(
      async (e) =>
        e ??
        started[
          started.push(await local({ SELFSERVICE_FLOWS_REGISTRATION_LIFESPAN: lifespan, SELFSERVICE_FLOWS_LOGIN_LIFESPAN: lifespan })) - 1
        ]!,
    ),
  ]);
  const [main, short] = await kratosPair.catch(async (err: unknown) => {
    await Promise.all([redis.stop(), ...started.map((k) => k.stop()), recorder.close()]);
    throw err;
  });
  const browserProblem = await browser;
  if (browserProblem !== undefined) {
    await Promise.all(started.map((k) => k.stop()));
    await redis.stop();
    await recorder.close();
    throw browserProblem;
  }
  project.provide('kratos', { publicUrl: main.publicUrl, adminUrl: main.adminUrl });
  project.provide('kratosShortLifespan', { publicUrl: short.publicUrl, adminUrl: short.adminUrl });
  project.provide('hookRecorderUrl', recorderUrl);
  project.provide('redis', redis.url);
  return async () => {
    await Promise.all(started.map((k) => k.stop()));
    await redis.stop();
    await recorder.close();
  };
}
