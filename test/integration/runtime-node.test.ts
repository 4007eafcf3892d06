import { parseConfig } from '../../src/config.ts';
import { createLogger } from '../../src/shared/log.ts';
import { startNodeGateway } from '../../src/runtime/node.ts';
import { allLogs, registerSecret } from '../support/gateway.ts';
import { defineRuntimeScenarios, scenarioEnv } from '../support/runtime-scenarios.ts';

// The same scenarios as test/workers/runtime-worker.test.ts, on the Node entry.
defineRuntimeScenarios('node', async (raw) => {
  const config = parseConfig({ ...raw, server: { host: '127.0.0.1', port: 0, shutdown_timeout_ms: 2000 } }, scenarioEnv);
  registerSecret(...Object.values(scenarioEnv));
  return startNodeGateway(config, { logger: createLogger({ level: 'debug', sink: (l) => allLogs.push(l) }) });
});
