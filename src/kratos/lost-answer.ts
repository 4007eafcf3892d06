import type { Identity, Session } from '@ory/client';
import type { ForwardedClient, KratosPort, RegistrationResult, RegistrationSubmission } from './port.ts';
import type { Logger } from '../shared/log.ts';
import { valueAtPointer } from '../shared/json-pointer.ts';
import { performLogin, performRegistration } from './native-flow.ts';

/**
 * When a registration submit went out but its answer was lost (timeout, dropped connection,
 * 5xx), Kratos may have created the identity. This finds out from Kratos itself, before the
 * gateway answers, and never claims an identity another request created.
 *
 * Kratos v1.3.1 keeps nothing on the flow or the identity that names the request that created
 * it (the flow stays `choose_method`, `transient_payload` is not stored), so "this attempt
 * created it" is proven with what only this attempt holds:
 *   1. the identity with the submitted identifier was created *after* this attempt's flow was
 *      issued (`created_at` ≥ the flow's `issued_at`, both on Kratos's clock): an older account
 *      is someone else's, and
 *   2. the submitted password signs in to it (a native login): another person's sign-up with the
 *      same identifier would have its own password.
 * Only a sign-up with the same identifier *and* password in the same moment passes both, and
 * that is the same person submitting twice.
 *
 * If Kratos answered (a 5xx) and no identity exists, nothing was created. If the answer was lost
 * and no identity exists yet, the submit may still be queued inside Kratos. Rather than wait
 * for it, the gateway submits once more on a fresh flow: Kratos's unique identifier constraint
 * lets exactly one of the two create the identity, and either way the outcome is then known.
 */
export type LostAnswerResolution =
  /** The second submit created the identity: an ordinary success. */
  | { kind: 'created'; result: Extract<RegistrationResult, { kind: 'ok' }> }
  /** The lost submit created it. `login` is the proof's session, if Kratos issued one. */
  | { kind: 'ours'; identity: Identity; login?: { session: Session; sessionToken: string } }
  /** The identifier belongs to an identity this request did not create. */
  | { kind: 'taken' }
  /** Kratos answered (a 5xx) and no identity exists: nothing was created. */
  | { kind: 'not_created' }
  /** The second submit failed in an ordinary way (validation, Kratos down before sending, …). */
  | { kind: 'failed'; result: Exclude<RegistrationResult, { kind: 'ok' }> }
  /** Kratos could not tell (still unreachable); `why` is for the log. */
  | { kind: 'unknown'; why: string };

export interface LostAnswerInput {
  kratos: KratosPort;
  submission: RegistrationSubmission;
  client: ForwardedClient;
  identifierPointer: string;
  /** `issued_at` of the flow whose submit lost its answer. */
  flowIssuedAt: string | undefined;
  /**
   * Kratos answered with a 5xx, so the submit is over: an identity that does not exist now never
   * will. Otherwise (timeout, connection lost) the submit may still be running inside Kratos.
   */
  answered: boolean;
  /** Whether another submit may be made (not while shutting down or after the client left). */
  mayResubmit: boolean;
  log: Logger;
}

/** The parts of an admin identity a registration answer may show (no metadata_admin, no credentials). */
export function publicIdentity(identity: Identity): Identity {
  const { metadata_admin: _admin, credentials: _credentials, ...rest } = identity;
  return rest as Identity;
}

export async function resolveLostAnswer(input: LostAnswerInput): Promise<LostAnswerResolution> {
  const { kratos, submission, log } = input;
  // The proof's calls run to the end whatever the request's signal says: they decide whether
  // an account is kept or removed. They carry no client session (the client has none here).
  const client: ForwardedClient = { ...input.client, sessionToken: undefined, signal: undefined };
  const identifier = valueAtPointer({ traits: submission.traits }, input.identifierPointer);
  if (typeof identifier !== 'string' || identifier === '') return { kind: 'unknown', why: 'no identifier trait to look up' };
  const issuedAt = input.flowIssuedAt ? Date.parse(input.flowIssuedAt) : NaN;
  if (!Number.isFinite(issuedAt)) return { kind: 'unknown', why: 'the flow has no issued_at' };

  // Twice at most: a second submit that finds the identifier taken means the lost one landed meanwhile.
  for (let round = 0; round < 2; round++) {
    const found = await kratos.findIdentitiesByIdentifier(identifier, client.requestId);
    if (found.kind !== 'ok') return { kind: 'unknown', why: `identity lookup: ${found.kind}` };
    const identity = found.identities[0];
    if (identity) {
      const createdAt = Date.parse(identity.created_at ?? '');
      if (!(createdAt >= issuedAt)) return { kind: 'taken' };
      const login = await performLogin(kratos, { identifier, password: submission.password }, client);
      switch (login.kind) {
        case 'ok':
          return { kind: 'ours', identity: publicIdentity(identity), login: { session: login.session, sessionToken: login.sessionToken } };
        case 'invalid_credentials':
          return { kind: 'taken' };
        case 'invalid':
          // Kratos checks the password before its login hooks: "verify your address first"
          // (4000010) means the password matched, only no session is issued.
          if (login.errors.some((e) => e.kratos?.id === 4000010)) return { kind: 'ours', identity: publicIdentity(identity) };
          return { kind: 'unknown', why: 'the proof login was refused' };
        default:
          return { kind: 'unknown', why: `proof login: ${login.kind}` };
      }
    }
    if (input.answered) return { kind: 'not_created' };
    if (!input.mayResubmit) return { kind: 'unknown', why: 'no identity yet, and no second submit allowed' };
    if (round > 0) break;
    log.info('registration answer lost and no identity yet; submitting once more on a fresh flow');
    const again = await performRegistration(kratos, submission, client);
    if (again.kind === 'ok') return { kind: 'created', result: again };
    if (again.kind === 'ambiguous') return { kind: 'unknown', why: 'the second submit lost its answer too' };
    const taken = again.kind === 'invalid' && again.errors.some((e) => e.code === 'IDENTIFIER_TAKEN');
    if (!taken) return { kind: 'failed', result: again };
  }
  return { kind: 'unknown', why: 'the identifier is taken but no identity was found' };
}
