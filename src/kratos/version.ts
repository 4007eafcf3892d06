import { AppError } from '../errors.ts';
import type { Logger } from '../shared/log.ts';
import { kratosFailure } from './failure.ts';
import type { KratosPort } from './port.ts';

/**
 * Which Kratos features the gateway can use, by the version Kratos reports. The gateway is
 * tested against Kratos v1.3.1 (full suite) and v1.0.0 (compatibility suite); a feature that
 * v1.0.0 lacks is refused with NOT_SUPPORTED_BY_KRATOS (501) before any flow is started, so a
 * client gets one clear answer instead of whatever an old Kratos makes of an unknown method.
 */

/** Features that some supported Kratos versions lack. */
export type KratosFeature =
  /** Passwordless one-time code login (`method: "code"` on login). */
  | 'code_login'
  /** Passwordless one-time code registration (`method: "code"` on registration). */
  | 'code_registration'
  /**
   * Recovery as a native flow: the session token after a correct code (needs the feature flag
   * `use_continue_with_transitions`). Kratos v1.0.0 answers a correct code with 422
   * `browser_location_change_required` and a session cookie only.
   */
  | 'native_recovery';

/**
 * The first Kratos version with each feature (Kratos CHANGELOG; v1.1.0 brought the code method
 * for login/registration and native recovery, #3273 #3624). Only v1.0.0 (without) and v1.3.1
 * (with) are tested: the Go module proxy serves no version in between.
 */
export const kratosFeatureSince: Record<KratosFeature, readonly [number, number, number]> = {
  code_login: [1, 1, 0],
  code_registration: [1, 1, 0],
  native_recovery: [1, 1, 0],
};

/** `v1.3.1` / `1.0.0` / `v1.0.0-pre.1` → [major, minor, patch]; anything else → undefined. */
export function parseVersion(version: string): [number, number, number] | undefined {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(version.trim());
  return m ? [Number(m[1]), Number(m[2]), Number(m[3])] : undefined;
}

/**
 * Whether a Kratos reporting `version` has `feature`. A version that is not a release number
 * (a build from a branch reports e.g. `master`) is taken to be current: it has every feature.
 */
export function kratosSupports(version: string, feature: KratosFeature): boolean {
  const v = parseVersion(version);
  if (!v) return true;
  const since = kratosFeatureSince[feature];
  for (let i = 0; i < 3; i++) if (v[i] !== since[i]) return v[i]! > since[i]!;
  return true;
}

/**
 * Throws AppError('NOT_SUPPORTED_BY_KRATOS') (501) when the Kratos behind `gateway` lacks
 * `feature`; resolves otherwise. Call it first in a route, before any flow is created:
 *
 *   await requireKratosFeature(c.get('gateway'), 'code_login', c.get('requestId'));
 *
 * The version is asked of Kratos's admin API once per gateway (`kratos.kratosVersion`) and
 * remembered. If Kratos cannot be asked, it throws KRATOS_UNAVAILABLE (503) or UPSTREAM_ERROR
 * (502) like any other Kratos call, and asks again next time.
 */
export async function requireKratosFeature(gateway: { kratos: KratosPort; logger: Logger }, feature: KratosFeature, requestId = ''): Promise<void> {
  const result = await gateway.kratos.kratosVersion(requestId);
  if (result.kind !== 'ok') throw kratosFailure(gateway.logger, 'the Kratos version check', result);
  if (kratosSupports(result.version, feature)) return;
  throw new AppError('NOT_SUPPORTED_BY_KRATOS', {
    detail: `This feature (${feature}) needs Kratos v${kratosFeatureSince[feature].join('.')} or later; the identity service is ${result.version}.`,
  });
}
