import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { chromiumPath, DEBIAN_CHROMIUM, ensureChromium, INSTALL_SCRIPT, runInstallScript } from '../support/chromium.ts';

// The decision the integration setup makes before the browser test; the install itself is
// rehearsed on a fresh machine (see the README's Quick start), not here.
function harness(present: string[], install: (installed: Set<string>) => Promise<void> = async (s) => void s.add(DEBIAN_CHROMIUM)) {
  const installed = new Set(present);
  const calls = { install: 0 };
  const logs: string[] = [];
  return {
    calls,
    logs,
    run: (override?: string) =>
      ensureChromium({
        override,
        exists: (p) => installed.has(p),
        install: async () => {
          calls.install++;
          await install(installed);
        },
        log: (l) => logs.push(l),
      }),
  };
}

describe('ensureChromium', () => {
  it("uses Debian's chromium when it is there, and installs nothing", async () => {
    const h = harness([DEBIAN_CHROMIUM]);
    await expect(h.run()).resolves.toBe(DEBIAN_CHROMIUM);
    expect(h.calls.install).toBe(0);
    expect(h.logs).toEqual([]);
  });

  it('installs it when it is missing, saying so', async () => {
    const h = harness([]);
    await expect(h.run()).resolves.toBe(DEBIAN_CHROMIUM);
    expect(h.calls.install).toBe(1);
    expect(h.logs[0]).toMatch(/not at \/usr\/bin\/chromium; installing .*install-browser\.sh.*root or with sudo/);
    expect(h.logs.at(-1)).toBe(`chromium: installed at ${DEBIAN_CHROMIUM}`);
  });

  it('fails loudly when the install fails, with what to do', async () => {
    const h = harness([], async () => {
      throw new Error('scripts/install-browser.sh exited with code 1');
    });
    await expect(h.run()).rejects.toThrow(/installing it failed: scripts\/install-browser\.sh exited with code 1[\s\S]*as root or with sudo[\s\S]*CHROMIUM_PATH/);
  });

  it('fails when the install succeeds but leaves no browser where the test looks', async () => {
    const h = harness([], async (s) => void s.add('/usr/local/bin/chromium'));
    await expect(h.run()).rejects.toThrow(/still no \/usr\/bin\/chromium.*CHROMIUM_PATH/);
  });

  it('takes CHROMIUM_PATH as is: no install, even when Debian has none', async () => {
    const h = harness(['/opt/chrome/chrome']);
    await expect(h.run('/opt/chrome/chrome')).resolves.toBe('/opt/chrome/chrome');
    expect(h.calls.install).toBe(0);
  });

  it('refuses a CHROMIUM_PATH that points nowhere instead of installing something else', async () => {
    const h = harness([DEBIAN_CHROMIUM]);
    await expect(h.run('/opt/nothing')).rejects.toThrow(/CHROMIUM_PATH is \/opt\/nothing, and there is no browser there/);
    expect(h.calls.install).toBe(0);
  });
});

describe('chromiumPath', () => {
  it('is CHROMIUM_PATH, else Debian’s', () => {
    expect(chromiumPath({})).toBe(DEBIAN_CHROMIUM);
    expect(chromiumPath({ CHROMIUM_PATH: '' })).toBe(DEBIAN_CHROMIUM);
    expect(chromiumPath({ CHROMIUM_PATH: '/opt/chrome/chrome' })).toBe('/opt/chrome/chrome');
  });
});

describe('runInstallScript', () => {
  it('points at the real script', () => {
    expect(existsSync(INSTALL_SCRIPT)).toBe(true);
  });

  it('resolves when the script succeeds and rejects with the exit code when it fails', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kbff-install-'));
    try {
      writeFileSync(join(dir, 'ok.sh'), 'exit 0\n');
      writeFileSync(join(dir, 'fail.sh'), 'exit 3\n');
      await expect(runInstallScript(join(dir, 'ok.sh'))).resolves.toBeUndefined();
      await expect(runInstallScript(join(dir, 'fail.sh'))).rejects.toThrow(/fail\.sh exited with code 3$/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
