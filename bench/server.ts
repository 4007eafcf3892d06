/**
 * Child-process entry for everything the benchmark serves, so each runs in its own process
 * (its own core, CPU time and RSS):
 *
 *   node .cache/bench-server/server.mjs <kind>      with BENCH_SERVER_OPTIONS='{…}'
 *
 * (the bench bundles this file first: `buildBenchServer` in bench/harness.ts; `node --import
 * tsx bench/server.ts <kind>` runs it unbundled)
 *
 * kinds: gateway (the real Node gateway, `startNodeGateway`), direct, handwritten, naive-sdk
 * (bench/baselines.ts), stand-ins (bench/stand-ins.ts). Prints one JSON line with
 * `ready: true` and the URLs once listening; SIGTERM ends it.
 */
// Each kind imports only its own modules (dynamic imports), so the gateway process's RSS is
// not inflated by the baselines' dependencies (@ory/client, axios).

export type ServerKind = 'gateway' | 'direct' | 'handwritten' | 'naive-sdk' | 'stand-ins';

export interface ServerOptions {
  /** gateway: the raw config (as in the YAML file). */
  config?: Record<string, unknown>;
  /** Baselines: where Kratos (or its stand-in) and the services are. */
  kratosPublicUrl?: string;
  servicesUrl?: string;
}

async function main(): Promise<void> {
  const kind = process.argv[2] as ServerKind;
  const options = JSON.parse(process.env.BENCH_SERVER_OPTIONS ?? '{}') as ServerOptions;
  const need = (v: string | undefined, name: string): string => {
    if (!v) throw new Error(`bench/server.ts ${kind}: ${name} is required`);
    return v;
  };
  let ready: Record<string, unknown>;
  switch (kind) {
    case 'gateway': {
      const [{ parseConfig }, { createLogger }, { startNodeGateway }] = await Promise.all([
        import('../src/config.ts'),
        import('../src/shared/log.ts'),
        import('../src/runtime/node.ts'),
      ]);
      const config = parseConfig(options.config);
      // Errors only, to stderr: a request log line per sign-up would measure the terminal.
      const logger = createLogger({ level: 'error', sink: (line) => process.stderr.write(`${line}\n`) });
      const gateway = await startNodeGateway(config, { logger });
      ready = { url: gateway.url, ...(gateway.metricsUrl ? { metricsUrl: gateway.metricsUrl } : {}) };
      break;
    }
    case 'direct': {
      const { startDirectClient } = await import('./baselines.ts');
      ready = { url: (await startDirectClient(need(options.kratosPublicUrl, 'kratosPublicUrl'))).url };
      break;
    }
    case 'handwritten': {
      const { startHandwrittenHono } = await import('./baselines.ts');
      ready = { url: (await startHandwrittenHono(need(options.kratosPublicUrl, 'kratosPublicUrl'), need(options.servicesUrl, 'servicesUrl'))).url };
      break;
    }
    case 'naive-sdk': {
      const { startNaiveSdkBff } = await import('./baselines.ts');
      ready = { url: (await startNaiveSdkBff(need(options.kratosPublicUrl, 'kratosPublicUrl'), need(options.servicesUrl, 'servicesUrl'))).url };
      break;
    }
    case 'stand-ins': {
      const { startStandIns } = await import('./stand-ins.ts');
      const s = await startStandIns();
      ready = { kratosUrl: s.kratosUrl, servicesUrl: s.servicesUrl };
      break;
    }
    default:
      throw new Error(`bench/server.ts: unknown kind ${String(kind)}`);
  }
  process.once('SIGTERM', () => process.exit(0));
  process.once('SIGINT', () => process.exit(0));
  console.log(JSON.stringify({ ready: true, ...ready }));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
