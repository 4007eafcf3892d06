import type { UiContainer, UiNode } from '@ory/client';
import { createRoute, z } from '@hono/zod-openapi';
import type { AppContext } from '../app-env.ts';
import type { GatewayConfig } from '../config.ts';
import { AppError, validationError, type FieldError } from '../errors.ts';
import { kratosFailure } from '../kratos/failure.ts';
import type { ForwardedClient, SettingsSubmission } from '../kratos/port.ts';
import { forwardedClient, incomingSession } from '../session/incoming.ts';
import { flowProblemResponses, problemContent, sessionSecurity } from '../shared/openapi-schemas.ts';
import { createRouter } from '../shared/router.ts';
import { handleSealerFor } from './handle.ts';

/**
 * Second-factor enrolment through Kratos's settings flow (issue 14), for the signed-in user:
 * TOTP (start → secret and otpauth:// URL, confirm with a first code, remove) and lookup
 * (backup) codes (generate → shown once, confirm, remove). The settings flow id travels in a
 * sealed handle between the two steps, because Kratos binds the TOTP secret and the generated
 * codes to that one flow. Kratos's privileged-session rule applies to every step
 * (REAUTHENTICATION_REQUIRED), and enrolling upgrades the current session to aal2 at once —
 * the identity's other sessions then answer SECOND_FACTOR_REQUIRED until they step up.
 */

/** How long an enrolment handle opens; the settings flow's own lifespan still applies. */
const ENROLMENT_HANDLE_TTL_MS = 30 * 60_000;

const TotpStartResponse = z
  .object({
    handle: z.string().openapi({ description: 'Send it with the first code to POST /v1/settings/totp/confirm.' }),
    secret: z.string().openapi({ description: 'Base32 TOTP secret (SHA-1, 6 digits, 30 s), for manual entry.' }),
    otpauth_url: z.string().openapi({ description: 'otpauth://totp/… URL for authenticator apps.' }),
    qr_code: z.string().optional().openapi({ description: 'The same URL as a PNG data: URL (from Kratos).' }),
  })
  .openapi('TotpEnrolmentStart');
const TotpConfirmRequest = z.strictObject({ handle: z.string().min(1).max(16_384), totp_code: z.string().min(1).max(64) }).openapi('TotpEnrolmentConfirm');
const LookupCodesResponse = z
  .object({
    handle: z.string().openapi({ description: 'Send it to POST /v1/settings/lookup-codes/confirm to save these codes.' }),
    codes: z.array(z.string()).openapi({ description: 'The new backup codes; shown only here. Nothing is saved until confirmed.' }),
  })
  .openapi('LookupCodesGenerated');
const HandleRequest = z.strictObject({ handle: z.string().min(1).max(16_384) }).openapi('LookupCodesConfirm');
const Enrolled = z.object({ enrolled: z.boolean() }).openapi('SecondFactorEnrolment');

const sessionProblems = {
  401: { description: 'No valid session', content: problemContent },
  403: {
    description: 'REAUTHENTICATION_REQUIRED (the sign-in is older than Kratos privileged_session_max_age: sign in again with refresh) or SECOND_FACTOR_REQUIRED',
    content: problemContent,
  },
  503: { description: 'Kratos is unavailable', content: problemContent },
} as const;

const routes = {
  totpStart: createRoute({
    method: 'post',
    path: '/v1/settings/totp',
    operationId: 'startTotpEnrolment',
    security: sessionSecurity,
    summary: 'Start TOTP enrolment',
    description: 'Creates a Kratos settings flow for the session and returns its fresh TOTP secret. Nothing is saved until POST /v1/settings/totp/confirm.',
    responses: {
      ...flowProblemResponses,
      200: { description: 'Secret, otpauth:// URL and QR code', content: { 'application/json': { schema: TotpStartResponse } } },
      409: { description: 'TOTP is set up already (remove it first)', content: problemContent },
      ...sessionProblems,
    },
  }),
  totpConfirm: createRoute({
    method: 'post',
    path: '/v1/settings/totp/confirm',
    operationId: 'confirmTotpEnrolment',
    security: sessionSecurity,
    summary: 'Confirm TOTP enrolment with a first code',
    description: 'Saves the TOTP secret once a code computed from it is right; the current session becomes aal2. A wrong code is a field error (CODE_INVALID).',
    request: { body: { required: true, content: { 'application/json': { schema: TotpConfirmRequest } } } },
    responses: {
      ...flowProblemResponses,
      200: { description: 'Enrolled', content: { 'application/json': { schema: Enrolled } } },
      400: { description: 'Wrong code, or HANDLE_INVALID', content: problemContent },
      ...sessionProblems,
    },
  }),
  totpRemove: createRoute({
    method: 'delete',
    path: '/v1/settings/totp',
    operationId: 'removeTotp',
    security: sessionSecurity,
    summary: 'Remove TOTP',
    responses: { ...flowProblemResponses, 204: { description: 'Removed' }, 409: { description: 'TOTP is not set up', content: problemContent }, ...sessionProblems },
  }),
  lookupGenerate: createRoute({
    method: 'post',
    path: '/v1/settings/lookup-codes',
    operationId: 'generateLookupCodes',
    security: sessionSecurity,
    summary: 'Generate new backup (lookup) codes',
    description: 'Generates 12 codes and shows them once. They replace the current codes only after POST /v1/settings/lookup-codes/confirm.',
    responses: { ...flowProblemResponses, 200: { description: 'The new codes', content: { 'application/json': { schema: LookupCodesResponse } } }, ...sessionProblems },
  }),
  lookupConfirm: createRoute({
    method: 'post',
    path: '/v1/settings/lookup-codes/confirm',
    operationId: 'confirmLookupCodes',
    security: sessionSecurity,
    summary: 'Save the generated backup codes',
    description: 'Saves the codes generated with `handle`; the current session becomes aal2.',
    request: { body: { required: true, content: { 'application/json': { schema: HandleRequest } } } },
    responses: {
      ...flowProblemResponses,
      200: { description: 'Saved', content: { 'application/json': { schema: Enrolled } } },
      400: { description: 'HANDLE_INVALID', content: problemContent },
      ...sessionProblems,
    },
  }),
  lookupRemove: createRoute({
    method: 'delete',
    path: '/v1/settings/lookup-codes',
    operationId: 'removeLookupCodes',
    security: sessionSecurity,
    summary: 'Remove the backup codes',
    responses: { ...flowProblemResponses, 204: { description: 'Removed' }, ...sessionProblems },
  }),
};

function node(ui: UiContainer | undefined, id: string): UiNode | undefined {
  return (ui?.nodes ?? []).find((n) => 'id' in n.attributes && n.attributes.id === id) ?? (ui?.nodes ?? []).find((n) => 'name' in n.attributes && n.attributes.name === id);
}

/** Kratos's wrong-TOTP message (4000008, on the `totp_code` node in settings) as our field code. */
function withCodeErrors(errors: FieldError[]): FieldError[] {
  return errors.map((e) => (e.kratos?.id === 4000008 ? { ...e, pointer: '/totp_code', code: 'CODE_INVALID', message: 'The authentication code is invalid.' } : e));
}

export function enrolmentRoutes(config: GatewayConfig) {
  const handles = handleSealerFor(config);
  const issuer = config.second_factor.totp_issuer ?? new URL(config.kratos.public_url).hostname;
  const identifierTrait = config.kratos.identifier_pointer.replace(/^\/traits\//, '');

  async function sessionClient(c: AppContext): Promise<ForwardedClient> {
    const incoming = await incomingSession(c);
    if (!incoming) throw new AppError('UNAUTHENTICATED');
    return { ...(await forwardedClient(c)), sessionToken: incoming.token };
  }

  async function newFlow(c: AppContext, client: ForwardedClient) {
    const created = await c.get('gateway').kratos.createFlow('settings', client);
    if (created.kind !== 'flow') throw kratosFailure(c.get('log'), 'settings', created);
    return created;
  }

  async function submit(c: AppContext, flowId: string, submission: SettingsSubmission, client: ForwardedClient) {
    const result = await c.get('gateway').kratos.submitFlow('settings', flowId, submission, client);
    if (result.kind === 'ok') return result;
    if (result.kind === 'invalid') throw validationError(withCodeErrors(result.errors));
    // An expired settings flow loses the secret or codes bound to it: the client starts again.
    if (result.kind === 'expired') throw new AppError('HANDLE_INVALID');
    throw kratosFailure(c.get('log'), 'settings', result);
  }

  async function openHandle(c: AppContext, purpose: 'totp_enrolment' | 'lookup_enrolment', handle: string): Promise<string> {
    const payload = await handles.open('settings', handle, c.get('gateway').now());
    if (payload?.k !== purpose || typeof payload.f !== 'string') throw new AppError('HANDLE_INVALID');
    return payload.f;
  }
  const sealFlow = (c: AppContext, purpose: string, flowId: string) => handles.seal('settings', { k: purpose, f: flowId }, c.get('gateway').now() + ENROLMENT_HANDLE_TTL_MS);

  return createRouter()
    .openapi(routes.totpStart, async (c) => {
      const client = await sessionClient(c);
      const flow = await newFlow(c, client);
      const secretNode = node(flow.ui, 'totp_secret_key');
      const text = secretNode && 'text' in secretNode.attributes ? (secretNode.attributes.text as { context?: { secret?: unknown } }) : undefined;
      const secret = typeof text?.context?.secret === 'string' ? text.context.secret : undefined;
      if (!secret) {
        if (node(flow.ui, 'totp_unlink')) throw new AppError('SECOND_FACTOR_ALREADY_ENROLLED');
        throw kratosFailure(c.get('log'), 'settings', { kind: 'upstream_error', problem: { reason: 'settings flow has no TOTP secret (is the totp method enabled in Kratos?)' } });
      }
      const qr = node(flow.ui, 'totp_qr');
      const account = flow.identity?.traits && typeof (flow.identity.traits as Record<string, unknown>)[identifierTrait] === 'string'
        ? ((flow.identity.traits as Record<string, unknown>)[identifierTrait] as string)
        : (flow.identity?.id ?? '');
      const label = `${encodeURIComponent(issuer)}:${encodeURIComponent(account)}`;
      const otpauthUrl = `otpauth://totp/${label}?algorithm=SHA1&digits=6&issuer=${encodeURIComponent(issuer)}&period=30&secret=${secret}`;
      c.get('log').info('totp enrolment started');
      return c.json(
        {
          handle: await sealFlow(c, 'totp_enrolment', flow.flowId),
          secret,
          otpauth_url: otpauthUrl,
          ...(qr && 'src' in qr.attributes && typeof qr.attributes.src === 'string' ? { qr_code: qr.attributes.src } : {}),
        },
        200,
      );
    })
    .openapi(routes.totpConfirm, async (c) => {
      const client = await sessionClient(c);
      const body = c.req.valid('json');
      const flowId = await openHandle(c, 'totp_enrolment', body.handle);
      await submit(c, flowId, { method: 'totp', fields: { totp_code: body.totp_code } }, client);
      c.get('log').info('totp enrolled');
      return c.json({ enrolled: true }, 200);
    })
    .openapi(routes.totpRemove, async (c) => {
      const client = await sessionClient(c);
      const flow = await newFlow(c, client);
      if (!node(flow.ui, 'totp_unlink')) throw new AppError('SECOND_FACTOR_NOT_ENROLLED');
      await submit(c, flow.flowId, { method: 'totp', fields: { totp_unlink: true } }, client);
      c.get('log').info('totp removed');
      return c.body(null, 204);
    })
    .openapi(routes.lookupGenerate, async (c) => {
      const client = await sessionClient(c);
      const flow = await newFlow(c, client);
      const shown = await submit(c, flow.flowId, { method: 'lookup_secret', fields: { lookup_secret_regenerate: true } }, client);
      const codesNode = node(shown.ui, 'lookup_secret_codes');
      const text = codesNode && 'text' in codesNode.attributes ? (codesNode.attributes.text as { context?: { secrets?: Array<{ context?: { secret?: unknown } }> } }) : undefined;
      const codes = (text?.context?.secrets ?? []).flatMap((s) => (typeof s.context?.secret === 'string' ? [s.context.secret] : []));
      if (codes.length === 0) throw kratosFailure(c.get('log'), 'settings', { kind: 'upstream_error', problem: { reason: 'lookup regenerate answered without codes' } });
      c.get('log').info('lookup codes generated', { count: codes.length });
      return c.json({ handle: await sealFlow(c, 'lookup_enrolment', flow.flowId), codes }, 200);
    })
    .openapi(routes.lookupConfirm, async (c) => {
      const client = await sessionClient(c);
      const flowId = await openHandle(c, 'lookup_enrolment', c.req.valid('json').handle);
      await submit(c, flowId, { method: 'lookup_secret', fields: { lookup_secret_confirm: true } }, client);
      c.get('log').info('lookup codes saved');
      return c.json({ enrolled: true }, 200);
    })
    .openapi(routes.lookupRemove, async (c) => {
      const client = await sessionClient(c);
      const flow = await newFlow(c, client);
      await submit(c, flow.flowId, { method: 'lookup_secret', fields: { lookup_secret_disable: true } }, client);
      c.get('log').info('lookup codes removed');
      return c.body(null, 204);
    });
}
