import type { CreateFlowResult, ForwardedClient, KratosPort, LoginResult, LoginSubmission, RegistrationResult, RegistrationSubmission } from '../kratos/client.ts';

type NotAFlow = Exclude<CreateFlowResult, { kind: 'flow' }>;

/**
 * Create a native flow and submit it; if Kratos says the flow expired in between, create a
 * fresh one and submit once more. The gateway holds the whole submission, so the client
 * never sees the expiry. A second expiry is returned as is.
 */
export async function withFlowReplay<R extends { kind: string }>(
  create: () => Promise<CreateFlowResult>,
  submit: (flowId: string) => Promise<R>,
  onExpired: () => void,
): Promise<R | NotAFlow> {
  let result: R | undefined;
  for (let attempt = 0; attempt < 2; attempt++) {
    if (attempt > 0) onExpired();
    const flow = await create();
    if (flow.kind !== 'flow') return flow;
    result = await submit(flow.flowId);
    if (result.kind !== 'expired') return result;
  }
  return result!;
}

/** Native registration in one go (create + submit, with expiry replay). */
export function performRegistration(
  kratos: KratosPort,
  submission: RegistrationSubmission,
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<RegistrationResult> {
  return withFlowReplay(
    () => kratos.createRegistrationFlow(client),
    (flowId) => kratos.submitRegistrationFlow(flowId, submission, client),
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
    (flowId) => kratos.submitLoginFlow(flowId, submission, client),
    onExpired,
  );
}
