import type { AfterJobPlan } from '../after-jobs/plan.ts';
import type { SessionJobDeps } from '../after-jobs/replay.ts';
import type { GatewayConfig } from '../config.ts';
import type { KratosPort } from '../kratos/port.ts';
import type { Metrics } from '../observability/telemetry.ts';
import type { RetryQueue } from '../services/retry-queue.ts';
import type { ServiceRunner } from '../services/runner.ts';
import type { Logger } from '../shared/log.ts';

/** Everything a sign-up needs, handed over explicitly (the route builds it from `c.get('gateway')`). */
export interface SignUpDeps extends SessionJobDeps {
  kratos: KratosPort;
  services: ServiceRunner;
  retryQueue: RetryQueue;
  log: Logger;
  requestId: string;
  /** The registration after-jobs. */
  plan: AfterJobPlan;
  registration: GatewayConfig['registration'];
  identifierPointer: string;
  /** Told about an identity that may be left behind (a failed rollback, an unknown outcome). */
  onLeftBehind: (identityId: string | undefined) => void;
  /**
   * Keeps the runtime alive until `work` settles (Workers' `waitUntil`); does nothing on Node,
   * where the process simply keeps running it.
   */
  waitUntil: ((work: Promise<unknown>) => void) | undefined;
  /** Counts rollbacks; none when left out (unit tests of the pieces). */
  metrics?: Metrics;
}
