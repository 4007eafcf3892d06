import { describe, expect, it } from 'vitest';
import { RequestAbort, signalOf } from '../../src/shared/abort.ts';
import { deadlineSignal } from '../../src/shared/http.ts';

describe('RequestAbort (a request abort state without an AbortSignal until one is asked for)', () => {
  it('polls like a signal: not aborted, then aborted once, with the first reason kept', () => {
    const state = new RequestAbort();
    expect(state.aborted).toBe(false);
    expect(state.reason).toBeUndefined();
    const first = new Error('shutdown');
    state.abort(first);
    state.abort(new Error('client gone'));
    expect(state.aborted).toBe(true);
    expect(state.reason).toBe(first);
  });

  it('gives an AbortSignal that follows it, whether asked for before or after the abort', () => {
    const early = new RequestAbort();
    const signal = signalOf(early);
    expect(signal).toBe(early.toSignal());
    let heard = 0;
    signal.addEventListener('abort', () => heard++);
    early.abort();
    expect(signal.aborted).toBe(true);
    expect(heard).toBe(1);
    expect((signal.reason as DOMException).name).toBe('AbortError');

    const late = new RequestAbort();
    late.abort('gone');
    expect(late.toSignal().aborted).toBe(true);
    expect(late.toSignal().reason).toBe('gone');
  });

  it('passes a real AbortSignal through unchanged, and composes into the fetch transport deadline', () => {
    const controller = new AbortController();
    expect(signalOf(controller.signal)).toBe(controller.signal);
    const state = new RequestAbort();
    const deadline = deadlineSignal(60_000, state);
    expect(deadline.aborted).toBe(false);
    state.abort();
    expect(deadline.aborted).toBe(true);
  });
});
