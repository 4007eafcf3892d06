import type { TestProject } from 'vitest/node';
import { startKratos, type KratosInstance, type KratosVersion } from '../../scripts/kratos.ts';
import { recordingHookOverlay, startHookRecorder } from '../support/hook-recorder.ts';
import { SHORT_LIFESPAN_MS } from '../integration/global-setup.ts';

/**
 * Global setup of the compatibility project (compat-v1.0.0): the same `inject('kratos')`,
 * `inject('kratosShortLifespan')` and `inject('hookRecorderUrl')` as the integration project,
 * from real Kratos v1.0.0 processes (built once into the same cache as v1.3.1, under the same
 * kind of lock; vitest runs project global setups one after another, so the two Go builds of a
 * cold machine do not compete for the CPU). No fallback: without Go the run fails here.
 */

const VERSION: KratosVersion = 'v1.0.0';

async function local(env: Record<string, string> = {}, overlay?: Record<string, unknown>): Promise<KratosInstance> {
  try {
    return await startKratos({ version: VERSION, env, ...(overlay ? { overlay } : {}), log: (l) => console.error(l) });
  } catch (err) {
    throw new Error(
      `The compatibility tests need a real Kratos ${VERSION} and could not start one:\n${(err as Error).message}\n\n` +
        `Fix: install Go (the setup builds Kratos ${VERSION} from the Go module proxy on first run; \`npx tsx scripts/kratos.ts build --version ${VERSION}\` does it ahead).`,
    );
  }
}

export default async function setup(project: TestProject) {
  const started: KratosInstance[] = [];
  const recorder = await startHookRecorder();
  const lifespan = `${SHORT_LIFESPAN_MS / 1000}s`;
  try {
    // One after the other: the first call builds the binary if needed, the second reuses it.
    started.push(await local({}, recordingHookOverlay(recorder.url)));
    started.push(await local({ SELFSERVICE_FLOWS_REGISTRATION_LIFESPAN: lifespan, SELFSERVICE_FLOWS_LOGIN_LIFESPAN: lifespan }));
  } catch (err) {
    await Promise.all([...started.map((k) => k.stop()), recorder.close()]);
    throw err;
  }
  const [main, short] = started as [KratosInstance, KratosInstance];
  project.provide('kratos', { publicUrl: main.publicUrl, adminUrl: main.adminUrl });
  project.provide('kratosShortLifespan', { publicUrl: short.publicUrl, adminUrl: short.adminUrl });
  project.provide('hookRecorderUrl', recorder.url);
  return async () => {
    await Promise.all(started.map((k) => k.stop()));
    await recorder.close();
  };
}
