import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { topLevelStrings } from '../../src/kratos/json-scan.ts';

const NAMES = ['id', 'issued_at'];

/** What JSON.parse says the wanted members are, when all of them that exist are strings. */
function expected(text: string): Record<string, string> {
  const parsed = JSON.parse(text) as Record<string, unknown>;
  const out: Record<string, string> = {};
  for (const name of NAMES) if (typeof parsed[name] === 'string') out[name] = parsed[name] as string;
  return out;
}

describe('topLevelStrings (reading a created flow without parsing its UI)', () => {
  it('reads id and issued_at of a recorded Kratos flow answer, compact and pretty-printed', () => {
    const raw = readFileSync(new URL('../fixtures/kratos/registration-flow.json', import.meta.url), 'utf8');
    const flow = JSON.parse(raw) as { id: string; issued_at: string };
    for (const text of [raw, JSON.stringify(flow), JSON.stringify(flow, null, 2)]) {
      expect(topLevelStrings(text, NAMES)).toEqual({ id: flow.id, issued_at: flow.issued_at });
    }
  });

  it('never disagrees with JSON.parse on an object without repeated members: the same strings, or undefined (the caller then parses)', () => {
    const member = fc.oneof(fc.constantFrom(...NAMES), fc.string());
    const object = fc.dictionary(member, fc.jsonValue(), { maxKeys: 8 });
    fc.assert(
      fc.property(object, fc.constantFrom(undefined, 1, 2, '\t'), (value, space) => {
        const text = JSON.stringify(value, null, space);
        const read = topLevelStrings(text, NAMES);
        if (read !== undefined) expect(read).toEqual(expected(text));
        // Plain strings without escapes are always read exactly.
        const plain = Object.entries(value).every(([k, v]) => !/[\\"\u0000-\u001f]/.test(k) && (!NAMES.includes(k) || (typeof v === 'string' && !/[\\"\u0000-\u001f]/.test(v))));
        if (plain) expect(read).toEqual(expected(text));
      }),
      { numRuns: 2000 },
    );
  });

  it('gives up rather than guess: escapes in a wanted value, non-strings, broken or non-object JSON', () => {
    for (const text of [
      '{"id":"a\\"b"}',
      '{"id":"\\u0061"}',
      '{"i\\u0064":"x"}',
      '{"id":1}',
      '{"id":null}',
      '{"id":"x"',
      '{"id":"x"} trailing',
      '{"id":"x",}',
      '{"ui":{"nodes":[}',
      '["id","x"]',
      '"id"',
      '',
    ]) {
      expect(topLevelStrings(text, NAMES), text).toBeUndefined();
    }
  });

  it('stops reading once every wanted member is found', () => {
    expect(topLevelStrings('{"id":"a","issued_at":"b","ui":{"nodes":[', NAMES)).toEqual({ id: 'a', issued_at: 'b' });
    // Only one of the two: the whole object is read, and a broken one gives up.
    expect(topLevelStrings('{"id":"a","ui":{"nodes":[', NAMES)).toBeUndefined();
    expect(topLevelStrings('{"id":"a","ui":{"nodes":[]}}', NAMES)).toEqual({ id: 'a' });
  });

  it('skips nested members of the same name and strings that look like JSON', () => {
    const text = '{"ui":{"id":"nested","text":"} \\" { ] [ \\\\"},"list":[{"id":"x"},"]"],"id":"top","n":-1.5e3,"t":true}';
    expect(topLevelStrings(text, NAMES)).toEqual({ id: 'top' });
    expect(JSON.parse(text).id).toBe('top');
  });
});
