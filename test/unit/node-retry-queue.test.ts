import { describe, expect, it } from 'vitest';
import { bullPrefix, retryDelay, retryJobId } from '../../src/runtime/node-retry-queue.ts';

describe('durable retry queue helpers', () => {
  it('derives one job id per sign-up and service, without the key in clear', () => {
    const a = retryJobId('crm', 'key-1');
    expect(a).toBe(retryJobId('crm', 'key-1'));
    expect(a).not.toBe(retryJobId('crm', 'key-2'));
    expect(a).not.toBe(retryJobId('mailer', 'key-1'));
    expect(a).toMatch(/^rl-[0-9a-f]{40}$/);
    expect(a).not.toContain('key-1');
  });

  it('backs off exponentially, capped, with equal jitter', () => {
    expect(retryDelay(1, 1000, 60_000, () => 0)).toBe(500);
    expect(retryDelay(1, 1000, 60_000, () => 0.999999)).toBe(999);
    expect(retryDelay(3, 1000, 60_000, () => 0)).toBe(2000);
    expect(retryDelay(20, 1000, 60_000, () => 0.5)).toBe(45_000);
    for (let n = 1; n < 12; n++) {
      const d = retryDelay(n, 100, 5000);
      const ceiling = Math.min(5000, 100 * 2 ** (n - 1));
      expect(d).toBeGreaterThanOrEqual(ceiling / 2 - 1);
      expect(d).toBeLessThanOrEqual(ceiling);
    }
  });

  it('keeps BullMQ keys under the gateway key prefix', () => {
    expect(bullPrefix({ url: 'redis://x', key_prefix: 'kbff:', connect_timeout_ms: 1, command_timeout_ms: 1, workers: true })).toBe('kbff:bull');
  });
});
