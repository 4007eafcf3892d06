import type { Identity } from '@ory/client';
import { describe, expect, it } from 'vitest';
import { resolveLostAnswer, type LostAnswerInput } from '../../src/kratos/lost-answer.ts';
import type { FindIdentityResult, FlowType, KratosPort, LoginResult, RegistrationResult } from '../../src/kratos/port.ts';
import { createLogger } from '../../src/shared/log.ts';

// Every branch of the lost-answer resolution on a scripted Kratos port; the integration suite
// (test/integration/lost-answer.test.ts) drives the same against the real Kratos.

const FLOW_ISSUED = '2026-12-01T10:00:00.000000Z';
const identity = (createdAt: string): Identity =>
  ({ id: 'id-1', schema_id: 'default', schema_url: '', traits: { email: 'ada@example.com' }, created_at: createdAt, metadata_admin: { secret: 1 }, credentials: {} }) as unknown as Identity;

interface Script {
  lookups: FindIdentityResult[];
  login?: LoginResult;
  resubmit?: RegistrationResult;
}

function port(script: Script, calls: string[]): KratosPort {
  const unused = () => {
    throw new Error('not expected');
  };
  return {
    findIdentitiesByIdentifier: async (identifier) => (calls.push(`lookup ${identifier}`), script.lookups.shift() ?? { kind: 'ok', identities: [] }),
    createFlow: async (flow) =>
      flow === 'login'
        ? (calls.push('login flow'), { kind: 'flow', flowId: 'login-1' })
        : (calls.push('registration flow'), { kind: 'flow', flowId: 'reg-2', issuedAt: '2026-12-01T10:00:05Z' }),
    submitFlow: (async (flow: FlowType, _id: string, submission: { identifier?: string }) =>
      flow === 'login'
        ? (calls.push(`login ${submission.identifier}`), script.login ?? { kind: 'invalid_credentials' })
        : (calls.push('resubmit'), script.resubmit ?? { kind: 'unavailable', problem: { reason: 'x' } })) as KratosPort['submitFlow'],
    getFlow: unused,
    whoami: unused,
    revokeSession: unused,
    revokeOtherSessions: unused,
    deleteIdentity: unused,
    patchIdentityMetadata: unused,
    isReady: unused,
    kratosVersion: unused,
  };
}

function input(kratos: KratosPort, overrides: Partial<LostAnswerInput> = {}): LostAnswerInput {
  return {
    kratos,
    submission: { traits: { email: 'ada@example.com' }, password: 'pw-123456789' },
    client: { requestId: 'req-1', sessionToken: 'client-token', signal: AbortSignal.abort() },
    identifierPointer: '/traits/email',
    flowIssuedAt: FLOW_ISSUED,
    answered: false,
    mayResubmit: true,
    log: createLogger({ level: 'error', sink: () => {} }),
    ...overrides,
  };
}

const session = { id: 's-1' } as never;

describe('resolveLostAnswer', () => {
  it('claims an identity created after the flow that the password opens, without admin-only parts', async () => {
    const calls: string[] = [];
    const r = await resolveLostAnswer(input(port({ lookups: [{ kind: 'ok', identities: [identity('2026-12-01T10:00:00.5Z')] }], login: { kind: 'ok', session, sessionToken: 'tok' } }, calls)));
    expect(r.kind).toBe('ours');
    if (r.kind !== 'ours') return;
    expect(r.login?.sessionToken).toBe('tok');
    expect(r.identity).not.toHaveProperty('metadata_admin');
    expect(r.identity).not.toHaveProperty('credentials');
    expect(calls).toEqual(['lookup ada@example.com', 'login flow', 'login ada@example.com']);
  });

  it('runs the proof without the aborted signal or the client session', async () => {
    let seen: { signal?: unknown; sessionToken?: string | undefined } | undefined;
    const kratos = port({ lookups: [{ kind: 'ok', identities: [identity('2026-12-01T10:00:01Z')] }], login: { kind: 'ok', session, sessionToken: 'tok' } }, []);
    kratos.createFlow = async (_flow, client) => ((seen = client), { kind: 'flow', flowId: 'l' });
    await resolveLostAnswer(input(kratos));
    expect(seen?.signal).toBeUndefined();
    expect(seen?.sessionToken).toBeUndefined();
  });

  it('leaves an identity older than the flow alone, without even trying the password', async () => {
    const calls: string[] = [];
    const r = await resolveLostAnswer(input(port({ lookups: [{ kind: 'ok', identities: [identity('2026-12-01T09:59:59.999Z')] }] }, calls)));
    expect(r.kind).toBe('taken');
    expect(calls).toEqual(['lookup ada@example.com']);
  });

  it('leaves a new identity alone when the password does not open it', async () => {
    const r = await resolveLostAnswer(input(port({ lookups: [{ kind: 'ok', identities: [identity('2026-12-01T10:00:02Z')] }], login: { kind: 'invalid_credentials' } }, [])));
    expect(r.kind).toBe('taken');
  });

  it('counts "verify your address first" (4000010) as proof, without a session', async () => {
    const login: LoginResult = { kind: 'invalid', errors: [{ pointer: '', code: 'KRATOS_MESSAGE', message: 'verify', kratos: { id: 4000010 } }] };
    const r = await resolveLostAnswer(input(port({ lookups: [{ kind: 'ok', identities: [identity('2026-12-01T10:00:02Z')] }], login }, [])));
    expect(r).toMatchObject({ kind: 'ours' });
    expect(r.kind === 'ours' && r.login).toBeUndefined();
  });

  it('after a 5xx answer and no identity: nothing was created, no second submit', async () => {
    const calls: string[] = [];
    const r = await resolveLostAnswer(input(port({ lookups: [] }, calls), { answered: true }));
    expect(r.kind).toBe('not_created');
    expect(calls).toEqual(['lookup ada@example.com']);
  });

  it('after a lost answer and no identity: submits once more, and that success is the answer', async () => {
    const calls: string[] = [];
    const ok: RegistrationResult = { kind: 'ok', identity: identity('2026-12-01T10:00:05Z'), continueWith: [] };
    const r = await resolveLostAnswer(input(port({ lookups: [], resubmit: ok }, calls)));
    expect(r).toEqual({ kind: 'created', result: ok });
    expect(calls).toEqual(['lookup ada@example.com', 'registration flow', 'resubmit']);
  });

  it('a second submit refused as taken means the lost one landed: looks again and proves it', async () => {
    const calls: string[] = [];
    const taken: RegistrationResult = { kind: 'invalid', errors: [{ pointer: '/traits/email', code: 'IDENTIFIER_TAKEN', message: 'taken' }] };
    const r = await resolveLostAnswer(
      input(port({ lookups: [{ kind: 'ok', identities: [] }, { kind: 'ok', identities: [identity('2026-12-01T10:00:03Z')] }], resubmit: taken, login: { kind: 'ok', session, sessionToken: 't' } }, calls)),
    );
    expect(r.kind).toBe('ours');
    expect(calls).toEqual(['lookup ada@example.com', 'registration flow', 'resubmit', 'lookup ada@example.com', 'login flow', 'login ada@example.com']);
  });

  it('never submits again while the request is being aborted', async () => {
    const calls: string[] = [];
    const r = await resolveLostAnswer(input(port({ lookups: [] }, calls), { mayResubmit: false }));
    expect(r.kind).toBe('unknown');
    expect(calls).toEqual(['lookup ada@example.com']);
  });

  it('is unknown when Kratos cannot be asked, or there is no identifier or flow time', async () => {
    const down: FindIdentityResult = { kind: 'unavailable', problem: { reason: 'down' } };
    expect((await resolveLostAnswer(input(port({ lookups: [down] }, [])))).kind).toBe('unknown');
    expect((await resolveLostAnswer(input(port({ lookups: [] }, []), { identifierPointer: '/traits/phone' }))).kind).toBe('unknown');
    expect((await resolveLostAnswer(input(port({ lookups: [] }, []), { flowIssuedAt: undefined }))).kind).toBe('unknown');
  });

  it('a second lost answer stays unknown; an ordinary failure of the second submit is passed on', async () => {
    const lost: RegistrationResult = { kind: 'ambiguous', problem: { reason: 'timeout' }, answered: false };
    expect((await resolveLostAnswer(input(port({ lookups: [], resubmit: lost }, [])))).kind).toBe('unknown');
    const invalid: RegistrationResult = { kind: 'invalid', errors: [{ pointer: '/password', code: 'PASSWORD_TOO_SHORT', message: 'short' }] };
    expect(await resolveLostAnswer(input(port({ lookups: [], resubmit: invalid }, [])))).toEqual({ kind: 'failed', result: invalid });
  });
});
