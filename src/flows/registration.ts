import type { ForwardedClient, KratosPort, RegistrationResult, RegistrationSubmission } from '../kratos/client.ts';

/**
 * Native registration in one go: create the API flow, submit it, and if Kratos says the flow
 * expired in between, create a fresh one and submit once more. The gateway holds the whole
 * submission, so the client never sees the expiry.
 */
export async function performRegistration(
  kratos: KratosPort,
  submission: RegistrationSubmission,
  client: ForwardedClient,
  onExpired: () => void = () => {},
): Promise<RegistrationResult> {
  let result: RegistrationResult = { kind: 'expired' };
  for (let attempt = 0; attempt < 2 && result.kind === 'expired'; attempt++) {
    if (attempt > 0) onExpired();
    const flow = await kratos.createRegistrationFlow(client);
    if (flow.kind !== 'flow') return flow;
    result = await kratos.submitRegistrationFlow(flow.flowId, submission, client);
  }
  return result;
}
