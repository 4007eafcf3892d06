import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { connect } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './kratos.ts';

/**
 * A throwaway redis-server on a loopback port, for the tests and `npm run dev`: no persistence,
 * no config file, nothing shared with a system Redis. `ensureRedisServer()` installs Debian's
 * package when the binary is missing and fails loudly if it cannot.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Installs redis-server (scripts/install-redis.sh) if it is not on PATH; throws if that fails. */
export function ensureRedisServer(log: (line: string) => void = (l) => console.error(l)): void {
  if (spawnSync('redis-server', ['--version']).status === 0) return;
  log('redis-server is missing; installing it (scripts/install-redis.sh)');
  const res = spawnSync('bash', [join(root, 'scripts', 'install-redis.sh')], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (res.status !== 0 || spawnSync('redis-server', ['--version']).status !== 0) {
    throw new Error('redis-server is not installed and scripts/install-redis.sh could not install it (needs apt-get and root or sudo). Install redis-server yourself.');
  }
}

export interface RedisInstance {
  url: string;
  port: number;
  /** Stops the server (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  /** Kills it (SIGKILL), as a crash would. */
  kill(): Promise<void>;
  /** Starts it again on the same port (empty: nothing was persisted). */
  restart(): Promise<void>;
}

export interface StartRedisOptions {
  port?: number;
  /** Requires this password (`requirepass`); the URL then carries it. */
  password?: string;
}

/** Answers once `PING` gets `+PONG`, or throws after `timeoutMs`. */
export async function waitForRedis(port: number, password: string | undefined, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    const answer = await new Promise<string>((resolve) => {
      const socket = connect(port, '127.0.0.1');
      let data = '';
      socket.setTimeout(500, () => socket.destroy());
      socket.on('connect', () => socket.write(`${password ? `AUTH ${password}\r\n` : ''}PING\r\n`));
      socket.on('data', (d) => {
        data += d.toString();
        if (data.includes('PONG') || data.includes('-')) socket.end();
      });
      socket.on('close', () => resolve(data));
      socket.on('error', (e) => (data ||= e.message));
    });
    if (answer.includes('+PONG')) return;
    last = answer;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms (${last.trim()})`);
}

/** Starts redis-server on a free (or the given) loopback port and waits until it answers. */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisInstance> {
  const port = options.port ?? (await freePort());
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async () => {
    const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no', '--loglevel', 'warning'];
    if (options.password) args.push('--requirepass', options.password);
    const proc = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    child = proc;
    output = '';
    proc.stdout?.on('data', (d: Buffer) => (output += d));
    proc.stderr?.on('data', (d: Buffer) => (output += d));
    const failed = new Promise<never>((_, reject) => {
      proc.once('error', (e) => reject(new Error(`cannot run redis-server: ${e.message}`)));
      proc.once('exit', (code) => reject(new Error(`redis-server exited (${code}) on port ${port}:\n${output}`)));
    });
    failed.catch(() => {});
    await Promise.race([waitForRedis(port, options.password), failed]);
  };
  const end = async (signal: NodeJS.Signals) => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => proc.once('exit', () => resolve()));
    proc.kill(signal);
    await exited;
  };
  await launch();
  const auth = options.password ? `:${encodeURIComponent(options.password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    port,
    stop: () => end('SIGTERM'),
    kill: () => end('SIGKILL'),
    restart: async () => {
      await end('SIGTERM');
      await launch();
    },
  };
}
