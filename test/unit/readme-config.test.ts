import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { parseConfig } from '../../src/config.ts';

/**
 * Every ```yaml block of the README is a gateway config (or a fragment of one) that a reader
 * may paste: it must load through the real schema, so the docs cannot drift from it.
 *
 * A block that is not gateway config says so in its info string, e.g. ```yaml kratos for a
 * piece of Kratos's own config; such a block is only checked to be valid YAML.
 */

const README = join(import.meta.dirname, '../../README.md');

/** Info-string markers of YAML blocks that are not gateway config. */
const NOT_GATEWAY_CONFIG = new Set(['kratos', 'prometheus']);

/** Just enough to make a fragment a whole config: the keys without defaults. */
const BASE_CONFIG = { kratos: { public_url: 'http://127.0.0.1:4433', admin_url: 'http://127.0.0.1:4434' } };

interface YamlBlock {
  /** 1-based line of the opening fence. */
  line: number;
  /** Info-string words after `yaml` (e.g. `kratos`). */
  markers: string[];
  text: string;
}

/** The ```yaml / ```yml fenced blocks of a Markdown text. */
function yamlBlocks(markdown: string): YamlBlock[] {
  const lines = markdown.split('\n');
  const blocks: YamlBlock[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*ya?ml\b(.*)$/i.exec(lines[i]!);
    if (!open) continue;
    const [, indent = '', fence = '```', rest = ''] = open;
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const line = lines[j]!;
      if (line.trim().startsWith(fence[0]!.repeat(fence.length)) && line.trim().replace(/[`~]/g, '') === '') break;
      body.push(line.startsWith(indent) ? line.slice(indent.length) : line);
    }
    if (j === lines.length) throw new Error(`README.md:${i + 1}: unclosed yaml block`);
    blocks.push({ line: i + 1, markers: rest.trim().split(/\s+/).filter(Boolean), text: body.join('\n') });
    i = j;
  }
  return blocks;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Objects merge key by key; anything else in `over` replaces what `base` has. */
function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isObject(b) && isObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** A value for every `${NAME}` the block references, long enough to be a secret (≥ 32 chars). */
function envFor(text: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name] of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)/g)) env[name!] = `readme-test-${name!.toLowerCase()}-0123456789abcdef0123456789`;
  return env;
}

function parseYaml(block: YamlBlock): unknown {
  const doc = parseDocument(block.text);
  const problems = [...doc.errors, ...doc.warnings].map((e) => e.message.split('\n')[0]);
  expect(problems, `README.md:${block.line} is not valid YAML`).toEqual([]);
  return doc.toJS();
}

const blocks = yamlBlocks(readFileSync(README, 'utf8'));

describe('README.md yaml blocks', () => {
  it('finds the blocks (a broken extractor must not pass vacuously)', () => {
    expect(blocks.filter((b) => b.markers.length === 0).length).toBeGreaterThanOrEqual(4);
  });

  it.each(blocks.map((b) => [`README.md line ${b.line}${b.markers.length ? ` (${b.markers.join(' ')})` : ''}`, b] as const))(
    '%s loads',
    (_name, block) => {
      const unknown = block.markers.filter((m) => !NOT_GATEWAY_CONFIG.has(m));
      expect(unknown, `README.md:${block.line}: unknown marker; known: ${[...NOT_GATEWAY_CONFIG].join(', ')}`).toEqual([]);
      const raw = parseYaml(block);
      expect(isObject(raw), `README.md:${block.line} is not a YAML mapping`).toBe(true);
      if (block.markers.some((m) => NOT_GATEWAY_CONFIG.has(m))) return;
      let problems: string[] = [];
      try {
        parseConfig(deepMerge(BASE_CONFIG, raw as Record<string, unknown>), envFor(block.text));
      } catch (err) {
        problems = (err as { problems?: string[] }).problems ?? [String(err)];
      }
      expect(problems, `README.md:${block.line} does not load through parseConfig`).toEqual([]);
    },
  );
});

describe('yamlBlocks', () => {
  it('finds fenced yaml blocks with their line, markers and body, and nothing else', () => {
    const md = ['# t', '```sh', 'echo', '```', '', '```yaml', 'a: 1', '```', '- item', '  ```yml kratos', '  b: 2', '  ```', ''].join('\n');
    expect(yamlBlocks(md)).toEqual([
      { line: 6, markers: [], text: 'a: 1' },
      { line: 10, markers: ['kratos'], text: 'b: 2' },
    ]);
  });

  it('refuses an unclosed block', () => {
    expect(() => yamlBlocks('```yaml\na: 1\n')).toThrow(/unclosed/);
  });
});
