#!/usr/bin/env node
/**
 * The `kratos-bff` bin: `kratos-bff --config gateway.yaml`. Exit codes as the Node entry: 2 on a
 * bad config (or bad arguments), 1 if shutdown left an identity behind, 0 otherwise.
 */
import { main } from './node.ts';

const usage = 'usage: kratos-bff [--config gateway.yaml]   (default: config/gateway.yaml)';

if (process.argv.includes('--help') || process.argv.includes('-h')) {
  console.log(usage);
} else {
  main().catch((err: unknown) => {
    if (err instanceof Error && String((err as { code?: unknown }).code).startsWith('ERR_PARSE_ARGS')) {
      console.error(`kratos-bff: ${(err as Error).message}\n${usage}`);
      process.exit(2);
    }
    console.error(err);
    process.exit(1);
  });
}
