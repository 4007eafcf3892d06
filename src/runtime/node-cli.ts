#!/usr/bin/env node
/**
 * The `kratos-bff` bin: `kratos-bff --config gateway.yaml`. Exit codes as the Node entry: 2 on a
 * bad config (or bad arguments), 1 if shutdown left an identity behind, 0 otherwise.
 */
import { deadLettersMain, main, workerMain } from './node.ts';

const usage = [
  'usage: kratos-bff [--config gateway.yaml]   (default: config/gateway.yaml)',
  '       kratos-bff worker --config gateway.yaml   (the retry_later worker alone; state.backend: redis)',
  '       kratos-bff dead-letters --config gateway.yaml list | redrive <jobId|--all>',
].join('\n');

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(usage);
} else {
  const [command, ...rest] = process.argv.slice(2);
  const run = command === 'worker' ? workerMain(rest) : command === 'dead-letters' ? deadLettersMain(rest) : main(process.argv.slice(2));
  run.catch((err: unknown) => {
    if (err instanceof Error && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`kratos-bff: ${(err as Error).message}\n${usage}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}
