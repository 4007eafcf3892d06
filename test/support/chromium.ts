import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The browser test drives Debian's chromium through playwright-core (Playwright's own browser
 * download cannot work on these machines). `npm install && npm test` must be enough on a fresh
 * machine, so the integration setup installs it when it is missing.
 */

/** Where Debian's `chromium` package puts the browser. */
export const DEBIAN_CHROMIUM = '/usr/bin/chromium';

export const INSTALL_SCRIPT = join(import.meta.dirname, '../../scripts/install-browser.sh');

/** The browser the browser test launches: `CHROMIUM_PATH`, else Debian's. */
export function chromiumPath(env: Record<string, string | undefined> = process.env): string {
  return env.CHROMIUM_PATH || DEBIAN_CHROMIUM;
}

export interface EnsureChromiumOptions {
  /** `CHROMIUM_PATH`: a browser of the user's own; never replaced by an install. */
  override?: string | undefined;
  exists: (path: string) => boolean;
  /** Installs Debian's chromium; rejects when it cannot. */
  install: () => Promise<void>;
  log: (line: string) => void;
}

/** Returns the path of a usable Chromium, installing Debian's when it is missing; throws with what to do otherwise. */
export async function ensureChromium(options: EnsureChromiumOptions): Promise<string> {
  const { override, exists, install, log } = options;
  if (override) {
    if (exists(override)) return override;
    throw new Error(`CHROMIUM_PATH is ${override}, and there is no browser there. Point it at a Chromium binary, or unset it to let the test setup install Debian's chromium.`);
  }
  if (exists(DEBIAN_CHROMIUM)) return DEBIAN_CHROMIUM;
  log(`chromium: not at ${DEBIAN_CHROMIUM}; installing Debian's chromium for the browser test (bash scripts/install-browser.sh: apt-get, as root or with sudo)…`);
  try {
    await install();
  } catch (err) {
    throw new Error(
      `The browser test needs Chromium, and installing it failed: ${(err as Error).message}\n\n` +
        'Fix: run "bash scripts/install-browser.sh" as root or with sudo (it runs apt-get install chromium), ' +
        'or set CHROMIUM_PATH to a Chromium binary.',
    );
  }
  if (!exists(DEBIAN_CHROMIUM)) {
    throw new Error(
      `scripts/install-browser.sh finished, but there is still no ${DEBIAN_CHROMIUM}. ` +
        'If chromium is installed elsewhere, set CHROMIUM_PATH to it.',
    );
  }
  log(`chromium: installed at ${DEBIAN_CHROMIUM}`);
  return DEBIAN_CHROMIUM;
}

/** Runs scripts/install-browser.sh; its output goes to stderr, stdin stays the terminal's (a sudo password prompt). */
export function runInstallScript(script = INSTALL_SCRIPT): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: ['inherit', 2, 2] });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${script} exited with ${signal ?? `code ${code}`}`));
    });
  });
}

/** `ensureChromium` with the real file system, install script and environment. */
export function ensureChromiumForTests(): Promise<string> {
  return ensureChromium({
    override: process.env.CHROMIUM_PATH,
    exists: existsSync,
    install: () => runInstallScript(),
    log: (line) => console.error(line),
  });
}
