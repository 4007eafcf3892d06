import type { CreateFlowOptions, CreateFlowResult, FlowResults, FlowSubmissions, FlowType, ForwardedClient, KratosPort, RegistrationResult } from './port.ts';

type NotAFlow = Exclude<CreateFlowResult, { kind: 'flow' }>;
type CreatedFlow = Extract<CreateFlowResult, { kind: 'flow' }>;

/**
 * The native-flow engine, the same for every flow type: create the flow and submit it; if
 * Kratos says the flow expired in between, create a fresh one and submit once more. The
 * gateway holds the whole submission, so the client never sees the expiry. A second expiry is
 * returned as is. Headers (raw X-Session-Token, no browser Cookie/Origin, request id, client
 * IP) are the port's business and the same for every call; `decorate` lets a flow add what it
 * knows of the created flow to its result.
 */
export function runNativeFlow<F extends FlowType, R extends { kind: string } = FlowResults[F]>(
  kratos: KratosPort,
  flow: F,
  submission: FlowSubmissions[F],
  client: ForwardedClient,
  options: { onExpired?: () => void; decorate?: (result: FlowResults[F], created: CreatedFlow) => R; create?: CreateFlowOptions } = {},
): Promise<R | NotAFlow> {
  // Promises and `then`s rather than an async frame waiting on each call (issue 16).
  const round = (attempt: number): Promise<R | NotAFlow> => {
    if (attempt > 0) options.onExpired?.();
    return kratos.createFlow(flow, client, options.create).then((created) => {
      if (created.kind !== 'flow') return created;
      return kratos.submitFlow(flow, created.flowId, submission, client).then((submitted): R | Promise<R | NotAFlow> => {
        const result = options.decorate ? options.decorate(submitted, created) : (submitted as unknown as R);
        // Expired once: a fresh flow, submitted once more; a second expiry is returned as is.
        return result.kind === 'expired' && attempt === 0 ? round(1) : result;
      });
    });
  };
  return round(0);
}

/** A registration result; a lost answer names the flow it was lost on. */
export type PerformedRegistration =
  | Exclude<RegistrationResult, { kind: 'ambiguous' }>
  | (Extract<RegistrationResult, { kind: 'ambiguous' }> & { flowIssuedAt?: string | undefined });

/** Native registration in one go (create + submit, with expiry replay). */
export function performRegistration(
  kratos: KratosPort,
  submission: FlowSubmissions['registration'],
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<PerformedRegistration> {
  return runNativeFlow(kratos, 'registration', submission, client, {
    onExpired,
    // The lost-answer resolution needs the flow's issued_at (see lost-answer.ts).
    decorate: (result, created): PerformedRegistration => (result.kind === 'ambiguous' ? Object.assign({}, result, { flowIssuedAt: created.issuedAt }) : result),
  });
}

/** Native login in one go (create + submit, with expiry replay). */
export function performLogin(
  kratos: KratosPort,
  submission: FlowSubmissions['login'],
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<FlowResults['login']> {
  return runNativeFlow(kratos, 'login', submission, client, { onExpired });
}

/**
 * A native settings flow in one go (create + submit, with expiry replay), as the identity of
 * `client.sessionToken` (sent as X-Session-Token on both calls). Any settings method: see
 * `SettingsSubmission`.
 */
export function performSettings(
  kratos: KratosPort,
  submission: FlowSubmissions['settings'],
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<FlowResults['settings'] | NotAFlow> {
  return runNativeFlow(kratos, 'settings', submission, client, { onExpired });
}
