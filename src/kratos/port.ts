import type { ContinueWith, Identity, Session, UiContainer } from '@ory/client';
import type { FieldError } from '../errors.ts';
import type { AbortLike } from '../shared/abort.ts';

/**
 * The Kratos port: what the gateway asks of Kratos, and the plain results it gets back. Routes
 * never see raw responses or SDK objects; they `switch` on `kind`. `client.ts` implements it
 * over HTTP; unit tests implement it by hand.
 */

/**
 * The self-service flows the gateway runs as native (API) flows. Each has an entry in
 * `flows.ts` (its payload and how its answer maps to a result).
 */
export type FlowType = 'registration' | 'login' | 'verification' | 'settings' | 'recovery' | SecondFactorFlowType;

/**
 * Second factor and passwordless code (issue 14). `login_second_factor` is Kratos's login flow
 * created with `?aal=aal2` and the AAL1 session token; `login_code` / `registration_code` are the
 * login and registration flows submitted with `method: code` (send, then verify on the same flow).
 */
export type SecondFactorFlowType = 'login_second_factor' | 'login_code' | 'registration_code';

/** What the gateway forwards about the client on every native-flow call. */
export interface ForwardedClient {
  requestId: string;
  /** The client's session token, sent as raw X-Session-Token (the SDK has no parameter for it). */
  sessionToken?: string | undefined;
  clientIp?: string | undefined;
  userAgent?: string | undefined;
  /**
   * Cancels the calls made for this client (shutdown deadline, client gone). Never used for a
   * registration submit: cutting that call would leave its outcome unknown.
   */
  signal?: AbortLike | undefined;
}

/** Why Kratos could not be used; logged, never shown to the client. */
export interface UpstreamProblem {
  status?: number;
  errorId?: string;
  reason: string;
  /** The call was cancelled by the caller's signal. */
  aborted?: boolean;
  /** No answer arrived, but the request may have reached Kratos. */
  sent?: boolean;
}

/**
 * Answers of calls made with the client's session (settings, login `refresh`/`aal2`):
 * `unauthenticated` (401: no/invalid session), `refresh_required` (403
 * `session_refresh_required`: the session is older than
 * `selfservice.flows.settings.privileged_session_max_age`), `aal2_required` (403
 * `session_aal2_required`: the identity has a second factor the session has not used).
 */
export type SessionProblem = { kind: 'unauthenticated' } | { kind: 'refresh_required' } | { kind: 'aal2_required' };

/** Query parameters of a flow creation (`GET /self-service/<flow>/api?...`). */
export interface CreateFlowOptions {
  /** Login: re-authenticate the session sent as X-Session-Token (Kratos `refresh=true`). */
  refresh?: boolean;
  /** Login: step the session sent as X-Session-Token up to this level (Kratos `aal=aal2`). */
  aal?: 'aal2';
}

export type CreateFlowResult =
  | {
      kind: 'flow';
      flowId: string;
      /** Kratos's `issued_at`, on Kratos's clock. */ issuedAt?: string;
      /** The new flow's form (settings: TOTP secret/QR nodes, pre-filled traits). */
      ui?: UiContainer;
      /** Settings flows: the session's identity (traits, no credentials). */
      identity?: Identity;
    }
  | { kind: 'signed_in' }
  | SessionProblem
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface RegistrationSubmission {
  traits: Record<string, unknown>;
  password: string;
  transientPayload?: Record<string, unknown> | undefined;
}

/** Identity metadata the gateway writes after creation (from fields and services). */
export interface MetadataWrites {
  metadataPublic: Record<string, unknown>;
  metadataAdmin: Record<string, unknown>;
}

export type RegistrationResult =
  | { kind: 'ok'; identity: Identity; session?: Session; sessionToken?: string; continueWith: ContinueWith[] }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  /** Never from a registration submit; only its flow creation could say so. */
  | SessionProblem
  /**
   * The submit went out but no usable answer came back (timeout, connection lost, 5xx): Kratos
   * may or may not have created the identity. The caller must find out before answering.
   */
  | { kind: 'ambiguous'; problem: UpstreamProblem; /** Kratos answered (5xx) rather than no answer at all. */ answered: boolean }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface LoginSubmission {
  identifier: string;
  password: string;
}

export type LoginResult =
  | { kind: 'ok'; session: Session; sessionToken: string }
  | { kind: 'invalid_credentials' }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  /** Only for a submit carrying the client's session (refresh, aal2). */
  | SessionProblem
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/**
 * A settings submission, generic over Kratos's settings methods: `fields` are sent beside
 * `method` as they are, e.g. password `{ password }`, profile `{ traits }` (Kratos replaces ALL
 * traits with these), totp `{ totp_code }` / `{ totp_unlink: true }`, lookup_secret
 * `{ lookup_secret_regenerate: true }` / `_confirm` / `_reveal` / `_disable`.
 */
export interface SettingsSubmission {
  method: 'password' | 'profile' | 'totp' | 'lookup_secret';
  fields: Record<string, unknown>;
  transientPayload?: Record<string, unknown> | undefined;
}

export type SettingsResult =
  /**
   * 200: `state` is `success` (saved) or `show_form` (e.g. lookup-secret regenerate/reveal, which
   * save nothing). `ui` is the flow's new form, `identity` the identity after the change.
   */
  | { kind: 'ok'; flowId: string; state: string; identity: Identity | undefined; ui: UiContainer | undefined; continueWith: ContinueWith[] }
  /** 400 with node/flow error messages (password policy, schema validation, wrong TOTP code). */
  | { kind: 'invalid'; errors: FieldError[]; ui: UiContainer }
  | { kind: 'expired'; newFlowId?: string }
  | SessionProblem
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

// --- recovery (issue 13) ---
/**
 * A recovery submit: send a code to `email` (only ever to a new flow: an email sent to a
 * finished recovery flow crashes the Kratos request), or check `code`.
 */
export type RecoverySubmission = { email: string } | { code: string };

export type RecoveryResult =
  /** A code was sent (Kratos answers the same for unknown addresses). */
  | { kind: 'sent'; flowId: string; expiresAt?: string | undefined }
  /** The code was right: Kratos signed the identity in (a fresh, privileged, aal1 session). */
  | { kind: 'recovered'; sessionToken: string }
  /** A wrong or used code (200 with 4060006). */
  | { kind: 'code_invalid' }
  /** 400 "submitted too often": the 6th code submission on a flow always fails. */
  | { kind: 'too_many_attempts' }
  /** The flow or the code expired, or the code was already used: a new code is needed. */
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };
// --- end recovery ---
// --- verification (issue 13) ---
/** A verification submit: send (or re-send) a code to `email`, or check `code`. */
export type VerificationSubmission = { email: string } | { code: string };

export type VerificationResult =
  /** A code was sent (Kratos answers the same for unknown addresses). */
  | { kind: 'sent'; flowId: string }
  /** The code was right: the address is verified. `continueUrl`: where Kratos would send a browser. */
  | { kind: 'verified'; continueUrl?: string | undefined }
  /** A wrong or used code (errors at `/code`), or an email Kratos refused (at `/email`). */
  | { kind: 'invalid'; errors: FieldError[] }
  /**
   * The flow expired (Kratos replaces an expired native verification flow by a *browser* flow
   * and answers 303), or is unknown. The client must ask for a new code.
   */
  | { kind: 'expired'; newFlowId?: string }
  /** The code's own lifespan ran out (410 self_service_flow_expired on the submit). */
  | { kind: 'code_expired' }
  /** Kratos replaced the flow (410 self_service_flow_replaced): see `VerificationFlowState`. */
  | { kind: 'replaced'; newFlowId?: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** A flow read back (`GET /self-service/<flow>/flows?id=`): its state and message ids. */
export type GetFlowResult =
  | { kind: 'ok'; state?: string | undefined; messageIds: number[] }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };
// --- end verification ---

export type WhoamiResult =
  | { kind: 'ok'; session: Session }
  | { kind: 'unauthenticated' }
  /** A valid session below the AAL Kratos requires (403 `session_aal2_required`): step up. */
  | { kind: 'aal2_required' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** Outcome of a call that returns nothing of interest. `not_found`: Kratos did not know the thing. */
export type ActionResult =
  | { kind: 'ok' }
  | { kind: 'not_found' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export type FindIdentityResult =
  | { kind: 'ok'; identities: Identity[] }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export interface IdentityMetadataPatch {
  metadataPublic?: Record<string, unknown>;
  metadataAdmin?: Record<string, unknown>;
}

/** Kratos's own version (`GET <admin>/admin/version`, e.g. `v1.3.1`). */
export type KratosVersionResult =
  | { kind: 'ok'; version: string }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

// --- second factor and passwordless code (issue 14) ---

/** A second-factor answer on a `login?aal=aal2` flow. */
export type SecondFactorSubmission = { method: 'totp'; totpCode: string } | { method: 'lookup_secret'; lookupCode: string };

export type SecondFactorResult =
  | { kind: 'ok'; session: Session; sessionToken: string }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  /** The session is aal2 already. */
  | { kind: 'signed_in' }
  /** `unauthenticated`: no valid session came with the call (Kratos: `session_aal1_required`). */
  | SessionProblem
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** The send step (`code` absent) or the verify step of a code login; `identifier` goes with both. */
export interface LoginCodeSubmission {
  identifier: string;
  code?: string;
}

/** Failures shared by the code steps of login and registration. */
export type CodeStepFailure =
  | SessionProblem
  /** Wrong code (Kratos 4010008 / 4040003). */
  | { kind: 'invalid_code' }
  /** The flow took 5 code submissions; it is dead (Kratos: "submitted too often"). */
  | { kind: 'attempts_exhausted' }
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'signed_in' }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

export type LoginCodeResult =
  /** Send step done: Kratos answered 400 `sent_email` with info 1010014. */
  | { kind: 'sent' }
  /** Kratos 4000035: no such account (or none with a code credential). Never shown as such. */
  | { kind: 'unknown_identifier' }
  | { kind: 'ok'; session: Session; sessionToken: string }
  | CodeStepFailure;

/** The send step (`code` absent) or the verify step of a code registration; the same traits go with both. */
export interface RegistrationCodeSubmission {
  traits: Record<string, unknown>;
  code?: string;
  transientPayload?: Record<string, unknown> | undefined;
}

export type RegistrationCodeResult =
  | { kind: 'sent' }
  | { kind: 'ok'; identity: Identity; session?: Session; sessionToken?: string; continueWith: ContinueWith[] }
  /** The verify submit went out but no usable answer came back. */
  | { kind: 'ambiguous'; problem: UpstreamProblem; answered: boolean }
  | CodeStepFailure;

/** What each flow type submits. */
export interface FlowSubmissions {
  registration: RegistrationSubmission;
  login: LoginSubmission;
  settings: SettingsSubmission;
  recovery: RecoverySubmission;
  verification: VerificationSubmission;
  login_second_factor: SecondFactorSubmission;
  login_code: LoginCodeSubmission;
  registration_code: RegistrationCodeSubmission;
}

/** What each flow type's submit ends in. */
export interface FlowResults {
  registration: RegistrationResult;
  login: LoginResult;
  settings: SettingsResult;
  recovery: RecoveryResult;
  verification: VerificationResult;
  login_second_factor: SecondFactorResult;
  login_code: LoginCodeResult;
  registration_code: RegistrationCodeResult;
}

export interface KratosPort {
  /**
   * Creates a native flow (`GET /self-service/<flow>/api`). `client.sessionToken` goes out as
   * X-Session-Token: settings needs it, login refuses it unless `refresh`/`aal` is asked for.
   */
  createFlow(flow: FlowType, client: ForwardedClient, options?: CreateFlowOptions): Promise<CreateFlowResult>;
  /** Submits a native flow (`POST /self-service/<flow>?flow=<id>`) and maps Kratos's answer. */
  submitFlow<F extends FlowType>(flow: F, flowId: string, submission: FlowSubmissions[F], client: ForwardedClient): Promise<FlowResults[F]>;
  /** Reads a native flow back (`GET /self-service/<flow>/flows?id=`), e.g. the replacement Kratos names in `use_flow_id`. */
  getFlow(flow: FlowType, flowId: string, client: ForwardedClient): Promise<GetFlowResult>;
  /** `GET /sessions/whoami` with the token as X-Session-Token. */
  whoami(token: string, client: ForwardedClient): Promise<WhoamiResult>;
  /** Native logout: revokes the session of `token` (`DELETE /self-service/logout/api`). */
  revokeSession(token: string, client: ForwardedClient): Promise<ActionResult>;
  /** Revokes every session of the token's identity except the token's own (`DELETE /sessions`). */
  revokeOtherSessions(token: string, client: ForwardedClient): Promise<ActionResult>;
  /** Admin: deletes an identity; Kratos deletes its sessions with it. */
  deleteIdentity(identityId: string, requestId: string): Promise<ActionResult>;
  /** Admin: the identities whose credentials identifier is `identifier` (at most one). */
  findIdentitiesByIdentifier(identifier: string, requestId: string): Promise<FindIdentityResult>;
  /** Admin: replaces metadata_public and/or metadata_admin of an identity. */
  patchIdentityMetadata(identityId: string, patch: IdentityMetadataPatch, requestId: string): Promise<ActionResult>;
  /** Kratos's own readiness (`/health/ready` on the public port). */
  isReady(requestId: string): Promise<boolean>;
  /**
   * Admin: the version Kratos reports. Asked once and remembered for the client's lifetime
   * (a failed ask is not remembered). Use `requireKratosFeature` (version.ts) rather than
   * comparing versions yourself.
   */
  kratosVersion(requestId: string): Promise<KratosVersionResult>;
}

