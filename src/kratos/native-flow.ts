import type { AppContext } from '../app-env.ts';
import { AppError, validationError, type FieldError } from '../errors.ts';
import type { CreateFlowResult, ForwardedClient, KratosPort, LoginResult, LoginSubmission, RegistrationResult, RegistrationSubmission, UpstreamProblem } from './client.ts';

type NotAFlow = Exclude<CreateFlowResult, { kind: 'flow' }>;

/**
 * Create a native flow and submit it; if Kratos says the flow expired in between, create a
 * fresh one and submit once more. The gateway holds the whole submission, so the client
 * never sees the expiry. A second expiry is returned as is.
 */
export async function withFlowReplay<R extends { kind: string }>(
  create: () => Promise<CreateFlowResult>,
  submit: (flow: Extract<CreateFlowResult, { kind: 'flow' }>) => Promise<R>,
  onExpired: () => void,
): Promise<R | NotAFlow> {
  let result: R | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) onExpired();
    const flow = await create();
    if (flow.kind !== 'flow') return flow;
    result = await submit(flow);
    if (result.kind !== 'expired') return result;
  }
  return result!;
}

/** A registration result; a lost answer names the flow it was lost on. */
export type PerformedRegistration =
  | Exclude<RegistrationResult, { kind: 'ambiguous' }>
  | (Extract<RegistrationResult, { kind: 'ambiguous' }> & { flowIssuedAt?: string | undefined });

/** Native registration in one go (create + submit, with expiry replay). */
export function performRegistration(
  kratos: KratosPort,
  submission: RegistrationSubmission,
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<PerformedRegistration> {
  return withFlowReplay(
    () => kratos.createRegistrationFlow(client),
    async (flow): Promise<PerformedRegistration> => {
      const result = await kratos.submitRegistrationFlow(flow.flowId, submission, client);
      return result.kind === 'ambiguous' ? { ...result, flowIssuedAt: flow.issuedAt } : result;
    },
    onExpired,
  );
}

/** Native login in one go (create + submit, with expiry replay). */
export function performLogin(
  kratos: KratosPort,
  submission: LoginSubmission,
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<LoginResult> {
  return withFlowReplay(
    () => kratos.createLoginFlow(client),
    (flow) => kratos.submitLoginFlow(flow.flowId, submission, client),
    onExpired,
  );
}

/** The results both flows can end in, besides their own success. */
type FlowFailure =
  | { kind: 'invalid'; errors: FieldError[] }
  | { kind: 'signed_in' }
  | { kind: 'expired'; newFlowId?: string }
  | { kind: 'unavailable'; problem: UpstreamProblem }
  | { kind: 'upstream_error'; problem: UpstreamProblem };

/** The one mapping of a failed native flow to the client's answer; upstream detail only goes to the log. */
export function flowFailure(c: AppContext, flow: 'registration' | 'login', result: FlowFailure): AppError {
  switch (result.kind) {
    case 'invalid':
      return validationError(result.errors);
    case 'signed_in':
      return new AppError('SESSION_ALREADY_AVAILABLE');
    case 'expired':
      c.get('log').warn(`${flow} flow expired twice in a row`);
      return new AppError('FLOW_EXPIRED');
    case 'unavailable':
      c.get('log').error(`kratos unavailable during ${flow}`, { upstream: result.problem });
      return new AppError('KRATOS_UNAVAILABLE');
    case 'upstream_error':
      c.get('log').error(`unexpected kratos answer during ${flow}`, { upstream: result.problem });
      return new AppError('UPSTREAM_ERROR');
  }
}
