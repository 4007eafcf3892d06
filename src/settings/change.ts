import type { Identity } from '@ory/client';
import { kratosFailure } from '../kratos/failure.ts';
import { performSettings } from '../kratos/native-flow.ts';
import type { ForwardedClient, KratosPort, SettingsResult } from '../kratos/port.ts';
import type { Logger } from '../shared/log.ts';
import { mergePatch } from './merge.ts';

/**
 * Settings for a signed-in user, through Kratos native settings flows with the client's
 * session token as X-Session-Token (create and submit). Failures become AppErrors through
 * `kratosFailure`: a session that is not recent enough is REAUTHENTICATION_REQUIRED, one that
 * still owes its second factor SECOND_FACTOR_REQUIRED, no valid session UNAUTHENTICATED.
 */

export interface SettingsDeps {
  kratos: KratosPort;
  log: Logger;
}

/** The identity fields a client may see (never credentials or admin metadata). */
export function publicIdentity(identity: Identity | undefined): Record<string, unknown> | undefined {
  if (!identity) return undefined;
  const keep = ['id', 'schema_id', 'state', 'traits', 'verifiable_addresses', 'recovery_addresses', 'metadata_public', 'created_at', 'updated_at'] as const;
  const out: Record<string, unknown> = {};
  for (const k of keep) if (identity[k] !== undefined) out[k] = identity[k];
  return out;
}

function settled(log: Logger, during: string, result: Awaited<ReturnType<typeof performSettings>>): Extract<SettingsResult, { kind: 'ok' }> {
  if (result.kind === 'ok') return result;
  if (result.kind === 'signed_in') throw kratosFailure(log, during, { kind: 'upstream_error', problem: { reason: `unexpected ${result.kind}` } });
  throw kratosFailure(log, during, result);
}

/** Sets a new password for the session's identity (`method: password`). */
export async function changePassword(deps: SettingsDeps, input: { password: string; client: ForwardedClient }): Promise<{ identity: Record<string, unknown> | undefined }> {
  const result = await performSettings(deps.kratos, { method: 'password', fields: { password: input.password } }, input.client, () =>
    deps.log.info('settings flow expired between create and submit; retrying with a new flow'),
  );
  const ok = settled(deps.log, 'settings', result);
  deps.log.info('password changed', { identity_id: ok.identity?.id });
  return { identity: publicIdentity(ok.identity) };
}

/**
 * Updates traits: `patch` is merged (RFC 7396, see merge.ts) over the traits of the settings
 * flow's identity, and the result is submitted whole (`method: profile`), so traits the patch
 * does not name are kept. Kratos validates the result against the identity schema.
 */
export async function updateProfile(
  deps: SettingsDeps,
  input: { patch: Record<string, unknown>; client: ForwardedClient },
): Promise<{ identity: Record<string, unknown> | undefined }> {
  const { kratos, log } = deps;
  let result: SettingsResult | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) log.info('settings flow expired between create and submit; retrying with a new flow');
    const created = await kratos.createFlow('settings', input.client);
    if (created.kind !== 'flow') return settledCreate(log, created);
    const current = created.identity?.traits;
    if (typeof current !== 'object' || current === null) {
      throw kratosFailure(log, 'settings', { kind: 'upstream_error', problem: { reason: 'settings flow without identity traits' } });
    }
    const traits = mergePatch(current, input.patch) as Record<string, unknown>;
    result = await kratos.submitFlow('settings', created.flowId, { method: 'profile', fields: { traits } }, input.client);
    if (result.kind !== 'expired') break;
  }
  const ok = settled(log, 'settings', result!);
  log.info('profile updated', { identity_id: ok.identity?.id });
  return { identity: publicIdentity(ok.identity) };
}

function settledCreate(log: Logger, created: Exclude<Awaited<ReturnType<KratosPort['createFlow']>>, { kind: 'flow' }>): never {
  if (created.kind === 'signed_in') throw kratosFailure(log, 'settings', { kind: 'upstream_error', problem: { reason: 'unexpected signed_in' } });
  throw kratosFailure(log, 'settings', created);
}
