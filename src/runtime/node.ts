import { serve, type ServerType } from '@hono/node-server';
import { getConnInfo } from '@hono/node-server/conninfo';
import { parseArgs } from 'node:util';
import { createApp } from '../app.ts';
import { ConfigError, type GatewayConfig } from '../config.ts';
import type { HttpTransport } from '../http.ts';
import type { ServiceFunction } from '../services/runner.ts';
import { kratosClientFor } from '../kratos/client.ts';
import { createLogger, type Logger } from '../log.ts';
import { loadConfigFile } from './node-config.ts';
import { answerClientErrors, nodeServerOptions } from './node-server-limits.ts';
import { createUndiciTransport } from './node-transport.ts';

export interface NodeGateway {
  server: ServerType;
  /** The port actually bound (useful with port 0). */
  port: number;
  url: string;
  /** Stops accepting, waits for in-flight requests (bounded), closes upstream pools. */
  close(): Promise<void>;
}

export interface NodeGatewayOptions {
  logger?: Logger;
  /** Wraps the upstream transport (tests use it to delay or observe calls to Kratos). */
  wrapTransport?: (transport: HttpTransport) => HttpTransport;
  /** Services registered as functions (config entries with `function: name`). */
  serviceFunctions?: Record<string, ServiceFunction>;
}

/** Builds the app with real parts (undici pools) and serves it. */
export async function startNodeGateway(config: GatewayConfig, options: NodeGatewayOptions = {}): Promise<NodeGateway> {
  const logger = options.logger ?? createLogger({ level: config.log.level });
  const upstream = createUndiciTransport();
  const transport = options.wrapTransport ? options.wrapTransport(upstream.transport) : upstream.transport;
  const kratos = kratosClientFor(config, transport);
  const app = createApp({
    config,
    kratos,
    logger,
    transport,
    ...(options.serviceFunctions ? { serviceFunctions: options.serviceFunctions } : {}),
    peerAddress: (c) => getConnInfo(c).remote.address,
  });
  const server = await new Promise<ServerType>((resolve) => {
    const s = serve({ fetch: app.fetch, hostname: config.server.host, port: config.server.port, serverOptions: nodeServerOptions(config.server) }, () => resolve(s));
    answerClientErrors(s, logger);
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : config.server.port;
  let closing: Promise<void> | undefined;
  return {
    server,
    port,
    url: `http://${config.server.host.includes(':') ? `[${config.server.host}]` : config.server.host}:${port}`,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((resolve) => {
          const srv = server as { closeIdleConnections?: () => void; closeAllConnections?: () => void };
          // Sockets of drained requests go idle after close() was called; keep closing them,
          // or keep-alive would hold the server open until its own timeout.
          const sweep = setInterval(() => srv.closeIdleConnections?.(), 50);
          const force = setTimeout(() => {
            // In-flight requests did not finish in time: cut the remaining sockets.
            srv.closeAllConnections?.();
          }, config.server.shutdown_timeout_ms);
          force.unref();
          server.close(() => {
            clearInterval(sweep);
            clearTimeout(force);
            resolve();
          });
          srv.closeIdleConnections?.();
        });
        await upstream.close();
      })()),
  };
}

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { config: { type: 'string', short: 'c', default: 'config/gateway.yaml' } } });
  let config: GatewayConfig;
  try {
    config = loadConfigFile(values.config!);
  } catch (err) {
    if (err instanceof ConfigError) {
      console.error(`kratos-bff: ${values.config}: ${err.message}`);
      process.exit(2);
    }
    throw err;
  }
  const logger = createLogger({ level: config.log.level });
  const gateway = await startNodeGateway(config, { logger });
  logger.info('listening', { url: gateway.url, kratos_public_url: config.kratos.public_url });
  const stop = (signal: string) => {
    logger.info('shutting down', { signal });
    void gateway.close().then(() => process.exit(0));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
