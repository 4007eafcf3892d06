/**
 * Builds and runs a real Ory Kratos for development and tests.
 *
 *   tsx scripts/kratos.ts build           build (or reuse) the cached binary, print its path
 *   tsx scripts/kratos.ts start [--port P] run Kratos until Ctrl-C (public P, admin P+1)
 *   … --version v1.0.0                     either command for the compatibility version
 *
 * The binary is built from the Go module proxy through the wrapper module in test/kratos
 * (Kratos's own go.mod has local replace directives, so `go install` refuses) into a cache
 * folder outside git, keyed by a hash of the wrapper module: a changed pin rebuilds.
 * v1.3.1 is the default and the version the full suite runs against. v1.0.0 (the only other
 * version the proxy serves) has its own wrapper module in test/kratos-v1.0.0 and its own
 * config in config/kratos/v1.0.0, because v1.0.0 refuses v1.3.1's config keys.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { homedir, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const kratosConfigDir = join(root, 'config', 'kratos');

/** The Kratos versions the harness builds: the default (full suite) and the compatibility one. */
export const KRATOS_VERSIONS = ['v1.3.1', 'v1.0.0'] as const;
export type KratosVersion = (typeof KRATOS_VERSIONS)[number];
export const DEFAULT_KRATOS_VERSION: KratosVersion = 'v1.3.1';

/** Where a version's wrapper module and config live. */
function layout(version: KratosVersion = DEFAULT_KRATOS_VERSION): { moduleDir: string; configDir: string } {
  if (version === DEFAULT_KRATOS_VERSION) return { moduleDir: join(root, 'test', 'kratos'), configDir: kratosConfigDir };
  return { moduleDir: join(root, 'test', `kratos-${version}`), configDir: join(kratosConfigDir, version) };
}

/** The config folder (kratos.yml, identity.schema.json) of a version. */
export function kratosConfigDirFor(version: KratosVersion = DEFAULT_KRATOS_VERSION): string {
  return layout(version).configDir;
}

export function parseKratosVersion(value: string): KratosVersion {
  const v = (value.startsWith('v') ? value : `v${value}`) as KratosVersion;
  if (!KRATOS_VERSIONS.includes(v)) throw new Error(`unknown Kratos version ${value}; the harness builds ${KRATOS_VERSIONS.join(' and ')}`);
  return v;
}

/** The Kratos version a wrapper module pins (read from its go.mod; v1.3.1's by default). */
export function pinnedKratosVersion(version: KratosVersion = DEFAULT_KRATOS_VERSION): string {
  const { moduleDir } = layout(version);
  const mod = readFileSync(join(moduleDir, 'go.mod'), 'utf8');
  const m = /github\.com\/ory\/kratos (v\S+)/.exec(mod);
  if (!m?.[1]) throw new Error(`${moduleDir}/go.mod does not require github.com/ory/kratos`);
  if (m[1] !== version) throw new Error(`${moduleDir}/go.mod pins Kratos ${m[1]}, expected ${version}`);
  return m[1];
}

function cacheRoot(): string {
  return process.env.KRATOS_BFF_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'kratos-bff');
}

/** Path of the cached binary for a version's current pin (it may not exist yet). */
export function kratosBinaryPath(version: KratosVersion = DEFAULT_KRATOS_VERSION): string {
  const { moduleDir } = layout(version);
  const hash = createHash('sha256');
  for (const f of ['go.mod', 'go.sum', 'main.go']) hash.update(readFileSync(join(moduleDir, f)));
  hash.update(buildArgs('', version).join(' '));
  return join(cacheRoot(), `kratos-${pinnedKratosVersion(version)}-${hash.digest('hex').slice(0, 12)}`, 'kratos');
}

function buildArgs(out: string, version: KratosVersion): string[] {
  return ['build', '-v', '-tags', 'sqlite', '-ldflags', `-X github.com/ory/kratos/driver/config.Version=${pinnedKratosVersion(version)}`, '-o', out, '.'];
}

function run(cmd: string, args: string[], opts: { cwd: string; onLine?: (line: string) => void }): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, CGO_ENABLED: '1' } });
    const tail: string[] = [];
    const onData = (chunk: Buffer) => {
      for (const line of chunk.toString().split('\n')) {
        if (!line) continue;
        tail.push(line);
        if (tail.length > 40) tail.shift();
        opts.onLine?.(line);
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('error', (err) =>
      reject(new Error(`cannot run ${cmd}: ${err.message}. Install Go (https://go.dev/dl/) or point KRATOS_PUBLIC_URL/KRATOS_ADMIN_URL at a running Kratos.`)),
    );
    child.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`${cmd} ${args.join(' ')} failed (exit ${code}):\n${tail.join('\n')}`))));
  });
}

export interface EnsureKratosBinaryOptions {
  /** Which Kratos to build (default v1.3.1). */
  version?: KratosVersion;
  log?: (line: string) => void;
}

/**
 * Returns the path of a built Kratos binary, building it first if needed. The first build
 * downloads Kratos's modules and compiles ~1,300 packages (a few minutes); it prints progress.
 * Takes a log function (the original signature) or `{ version, log }`. A lock folder beside
 * the cache entry makes concurrent callers (two vitest projects, a dev server) build once.
 */
export async function ensureKratosBinary(options: EnsureKratosBinaryOptions | ((line: string) => void) = {}): Promise<string> {
  const opts: EnsureKratosBinaryOptions = typeof options === 'function' ? { log: options } : options;
  const version = opts.version ?? DEFAULT_KRATOS_VERSION;
  const log = opts.log ?? ((l: string) => console.error(l));
  const { moduleDir } = layout(version);
  const bin = kratosBinaryPath(version);
  if (existsSync(bin)) return bin;
  const dir = dirname(bin);
  mkdirSync(dirname(dir), { recursive: true });
  const lock = `${dir}.lock`;
  // Another process (dev server, a second test run) may be building the same pin.
  const waitStart = Date.now();
  for (;;) {
    try {
      mkdirSync(lock);
      break;
    } catch {
      if (existsSync(bin)) return bin;
      if (Date.now() - statSync(lock).mtimeMs > 20 * 60_000) rmSync(lock, { recursive: true, force: true });
      if (Date.now() - waitStart > 25 * 60_000) throw new Error(`timed out waiting for another Kratos build (lock ${lock})`);
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
  try {
    if (existsSync(bin)) return bin;
    const started = Date.now();
    log(`kratos: building Ory Kratos ${pinnedKratosVersion(version)} from the Go module proxy into ${dir}`);
    log('kratos: first build only; downloads modules and compiles (a few minutes). Progress follows.');
    let packages = 0;
    const beat = setInterval(() => log(`kratos: … ${Math.round((Date.now() - started) / 1000)}s, ${packages} packages compiled`), 15_000);
    try {
      await run('go', ['mod', 'download'], { cwd: moduleDir });
      log(`kratos: modules ready after ${Math.round((Date.now() - started) / 1000)}s; compiling`);
      mkdirSync(dir, { recursive: true });
      const tmp = `${bin}.tmp-${process.pid}`;
      await run('go', buildArgs(tmp, version), { cwd: moduleDir, onLine: () => packages++ });
      renameSync(tmp, bin);
    } finally {
      clearInterval(beat);
    }
    log(`kratos: built in ${Math.round((Date.now() - started) / 1000)}s (${packages} packages)`);
    return bin;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

/** A free TCP port on loopback. */
export function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolvePromise(port));
    });
  });
}

export interface KratosInstance {
  publicUrl: string;
  adminUrl: string;
  /** Folder with the SQLite database and Kratos's log. */
  dataDir: string;
  stop(): Promise<void>;
}

export interface StartKratosOptions {
  /** Which Kratos to run (default v1.3.1); each version has its own config folder. */
  version?: KratosVersion;
  /** Extra env for `kratos serve`, e.g. SELFSERVICE_FLOWS_REGISTRATION_LIFESPAN=1s. */
  env?: Record<string, string>;
  /**
   * Config merged over the version's kratos.yml (a second `-c` file). For values env cannot
   * carry in Kratos v1.3.1, such as hook lists.
   */
  overlay?: Record<string, unknown>;
  publicPort?: number;
  adminPort?: number;
  log?: (line: string) => void;
}

/** Starts Kratos on loopback with a fresh, migrated SQLite file and waits for readiness. */
export async function startKratos(options: StartKratosOptions = {}): Promise<KratosInstance> {
  const log = options.log ?? ((l: string) => console.error(l));
  const version = options.version ?? DEFAULT_KRATOS_VERSION;
  const configDir = kratosConfigDirFor(version);
  const bin = await ensureKratosBinary({ version, log });
  const publicPort = options.publicPort ?? (await freePort());
  const adminPort = options.adminPort ?? (await freePort());
  const dataDir = mkdtempSync(join(tmpdir(), 'kratos-bff-'));
  const publicUrl = `http://127.0.0.1:${publicPort}`;
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const env: Record<string, string> = {
    ...(process.env as Record<string, string>),
    // lock=false: pop (Kratos's DB layer) otherwise wraps every SQLite statement in a global
    // mutex, and a statement waiting for it while another transaction holds SQLite's write
    // lock stalls until the busy timeout (10 s) and fails "database is locked" under
    // concurrent sign-ups (found by the benchmark; pop v6.2.0 dialect_sqlite.go `locker`).
    DSN: `sqlite://${join(dataDir, 'kratos.sqlite')}?_fk=true&_journal=WAL&_busy_timeout=10000&lock=false`,
    SERVE_PUBLIC_PORT: String(publicPort),
    SERVE_PUBLIC_BASE_URL: `${publicUrl}/`,
    SERVE_ADMIN_PORT: String(adminPort),
    SERVE_ADMIN_BASE_URL: `${adminUrl}/`,
    ...options.env,
  };
  const configFile = join(configDir, 'kratos.yml');
  const configArgs = ['-c', configFile];
  if (options.overlay) {
    const overlayFile = join(dataDir, 'overlay.json');
    writeFileSync(overlayFile, JSON.stringify(options.overlay));
    configArgs.push('-c', overlayFile);
  }
  await new Promise<void>((resolvePromise, reject) => {
    const m = spawn(bin, ['migrate', 'sql', 'up', '-e', '--yes', ...configArgs], { cwd: configDir, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    m.stdout.on('data', (d: Buffer) => (out += d));
    m.stderr.on('data', (d: Buffer) => (out += d));
    m.on('exit', (code) => (code === 0 ? resolvePromise() : reject(new Error(`kratos migrate failed (exit ${code}):\n${out.slice(-4000)}`))));
  });
  const logFd = openSync(join(dataDir, 'kratos.log'), 'a');
  const child: ChildProcess = spawn(bin, ['serve', ...configArgs, '--dev', '--sqa-opt-out'], {
    cwd: configDir,
    env,
    stdio: ['ignore', logFd, logFd],
  });
  let exited: number | null = null;
  // Never outlive the process that started it (a killed dev server, a crashed test run).
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.on('exit', (code) => {
    exited = code ?? -1;
    process.removeListener('exit', killOnExit);
  });
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (exited !== null) {
      throw new Error(`kratos serve exited with ${exited}; log:\n${readFileSync(join(dataDir, 'kratos.log'), 'utf8').slice(-4000)}`);
    }
    try {
      const res = await fetch(`${publicUrl}/health/ready`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`kratos did not become ready within 30s; log:\n${readFileSync(join(dataDir, 'kratos.log'), 'utf8').slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    publicUrl,
    adminUrl,
    dataDir,
    stop: async () => {
      if (exited === null) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 5000);
        await done;
        clearTimeout(t);
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function cli(): Promise<void> {
  const [cmd, ...rest] = process.argv.slice(2);
  const v = rest.indexOf('--version');
  const version = v >= 0 ? parseKratosVersion(rest[v + 1] ?? '') : DEFAULT_KRATOS_VERSION;
  if (cmd === 'build') {
    console.log(await ensureKratosBinary({ version }));
    return;
  }
  if (cmd === 'start') {
    const i = rest.indexOf('--port');
    const port = i >= 0 ? Number(rest[i + 1]) : 4433;
    const k = await startKratos({ version, publicPort: port, adminPort: port + 1 });
    console.error(`kratos: public ${k.publicUrl}, admin ${k.adminUrl}, data ${k.dataDir}`);
    const stop = () => void k.stop().then(() => process.exit(0));
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    return;
  }
  console.error('usage: tsx scripts/kratos.ts build | start [--port 4433]   [--version v1.3.1|v1.0.0]');
  process.exit(2);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  cli().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
  });
}
