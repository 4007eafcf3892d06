import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { postJson, startTestGateway, uniqueEmail, type TestGateway } from '../support/gateway.ts';

/**
 * Equal timing of failed logins against the real Kratos. Kratos v1.3.1 answers an unknown
 * identifier after `time.Sleep(x.RandomDelay(argon2.expected_duration, expected_deviation))`
 * (selfservice/strategy/password/login.go) whatever the hasher: with the defaults (500 ms,
 * 500 ms) and that function's zero-mean sample, about half of those answers are immediate and
 * the rest spread up to 1 s; a wrong password costs one bcrypt compare (cost 4 here). The
 * gateway pads every failed login to the maximum of the recent failed logins.
 * Tries are interleaved (unknown, wrong, unknown, …) in a few parallel lanes, so machine load
 * hits both sides alike.
 */

const PASSWORD = 'correct-horse-battery-staple';
const TRIES = 50;
const LANES = 10;

let email: string;

async function timeFailures(gw: TestGateway, tries: number): Promise<{ unknown: number[]; wrong: number[] }> {
  const unknown: number[] = [];
  const wrong: number[] = [];
  const one = async (identifier: string, into: number[]) => {
    const started = performance.now();
    const res = await postJson(`${gw.url}/v1/login`, { identifier, password: 'not-the-password-1' });
    into.push(performance.now() - started);
    expect(res.status).toBe(401);
    expect(res.body.code).toBe('INVALID_CREDENTIALS');
  };
  await Promise.all(
    Array.from({ length: LANES }, async (_, lane) => {
      for (let i = lane; i < tries; i += LANES) {
        if (i % 2 === 0) {
          await one(uniqueEmail('nobody'), unknown);
          await one(email, wrong);
        } else {
          await one(email, wrong);
          await one(uniqueEmail('nobody'), unknown);
        }
      }
    }),
  );
  return { unknown, wrong };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const range = (xs: number[]) => `${Math.round(Math.min(...xs))}–${Math.round(Math.max(...xs))} ms`;

beforeAll(async () => {
  email = uniqueEmail('timing');
  const res = await fetch(`${inject('kratos').adminUrl}/admin/identities`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ schema_id: 'default', traits: { email }, credentials: { password: { config: { password: PASSWORD } } } }),
  });
  expect(res.status).toBe(201);
});

describe('equal timing of failed logins (real Kratos)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    // Limits and blocks off: only the timing is under test.
    gw = await startTestGateway({ config: { abuse: { rate_limits: { login: { ip: false, identifier: false } }, brute_force: { enabled: false } } } });
  });
  afterAll(() => gw?.close());

  it(`answers unknown identifiers and wrong passwords with medians within 10% (${TRIES} tries each)`, async () => {
    // Warm-up: the gateway learns the failed-login duration from these.
    await timeFailures(gw, 10);
    const { unknown, wrong } = await timeFailures(gw, TRIES);
    expect(unknown.length).toBe(TRIES);
    expect(wrong.length).toBe(TRIES);
    const mu = median(unknown);
    const mw = median(wrong);
    console.log(`equal timing on: median unknown identifier ${mu.toFixed(1)} ms (${range(unknown)}), wrong password ${mw.toFixed(1)} ms (${range(wrong)}), difference ${((Math.abs(mu - mw) / Math.max(mu, mw)) * 100).toFixed(1)}%`);
    expect(Math.abs(mu - mw) / Math.max(mu, mw)).toBeLessThan(0.1);
  }, 180_000);
});

describe('failed-login timing without equalisation (the problem being solved)', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ config: { abuse: { enabled: false } } });
  });
  afterAll(() => gw?.close());

  it("shows Kratos's own unknown-identifier delay: a slow tail that wrong passwords never have", async () => {
    const { unknown, wrong } = await timeFailures(gw, TRIES);
    console.log(`equal timing off: median unknown identifier ${median(unknown).toFixed(1)} ms (${range(unknown)}), wrong password ${median(wrong).toFixed(1)} ms (${range(wrong)})`);
    // RandomDelay's upper half (up to 1 s) lands on roughly half the unknown identifiers.
    expect(Math.max(...unknown)).toBeGreaterThan(4 * median(wrong));
  }, 180_000);
});
