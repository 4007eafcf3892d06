/**
 * `npm run dev`: builds (first time) and starts a local Kratos, then the gateway with
 * config/gateway.yaml in front of it. Ctrl-C stops both. `npm run dev -- config/gateway.redis.yaml`
 * also starts a throwaway redis-server (unless REDIS_URL is set) for `state.backend: redis`.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { loadConfigFile } from '../src/runtime/node-config.ts';
import { startNodeGateway } from '../src/runtime/node.ts';
import { startExamplePage } from './example-page.ts';
import { freePort, startKratos } from './kratos.ts';
import { ensureRedisServer, startRedis, type RedisInstance } from './redis.ts';
import { startStandIns } from './stand-ins.ts';

async function portOr(preferred: number): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => void freePort().then(resolve));
    srv.listen(preferred, '127.0.0.1', () => srv.close(() => resolve(preferred)));
  });
}

async function main(): Promise<void> {
  const configPath = process.argv[2] ?? 'config/gateway.yaml';
  const publicPort = await portOr(4433);
  const kratos = await startKratos({ publicPort, adminPort: await portOr(publicPort + 1) });
  console.error(`dev: Kratos public ${kratos.publicUrl}, admin ${kratos.adminUrl} (data in ${kratos.dataDir})`);
  // Local stand-ins for the example's external services (VAT check, CRM, mailer).
  const standIns = await startStandIns(await portOr(4455));
  console.error(`dev: service stand-ins ${standIns.url}`);
  // A config that asks for Redis gets a local one, and a per-run idempotency secret if none is set.
  const wantsRedis = (parseYaml(readFileSync(configPath, 'utf8')) as { state?: { backend?: string } } | null)?.state?.backend === 'redis';
  let redis: RedisInstance | undefined;
  const redisEnv: Record<string, string> = {};
  if (wantsRedis && !process.env.REDIS_URL) {
    ensureRedisServer();
    redis = await startRedis({ port: await portOr(6379) });
    redisEnv.REDIS_URL = redis.url;
    console.error(`dev: redis ${redis.url}`);
  }
  if (wantsRedis && !process.env.IDEMPOTENCY_SECRET) redisEnv.IDEMPOTENCY_SECRET = randomBytes(32).toString('hex');
  const config = loadConfigFile(configPath, {
    ...process.env,
    ...redisEnv,
    KRATOS_PUBLIC_URL: kratos.publicUrl,
    KRATOS_ADMIN_URL: kratos.adminUrl,
    STANDINS_URL: standIns.url,
  });
  const gateway = await startNodeGateway(config);
  console.error(`dev: gateway ${gateway.url} (config ${configPath}); OpenAPI at ${gateway.url}/openapi.json`);
  // The example frontend, on its own origin (listed in cors.allowed_origins of the example config).
  const page = await startExamplePage(() => gateway.url, await portOr(3000));
  console.error(`dev: example page ${page.url}`);
  console.error(
    `dev: try\n  curl -s ${gateway.url}/v1/registration -H 'Content-Type: application/json' \\\n` +
      `    -d '{"traits":{"email":"ada@example.com"},"password":"correct-horse-battery-staple","fields":{"company":"Analytical Engines","vat_id":"GB123456789","accept_terms":true}}'`,
  );
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await page.close();
    await gateway.close();
    await standIns.close();
    await kratos.stop();
    await redis?.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
