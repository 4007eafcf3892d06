import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { ConfigError, parseConfig, type GatewayConfig } from '../config.ts';

/** Reads a YAML config file and validates it, with `${ENV}` references from `env`. */
export function loadConfigFile(path: string, env: Record<string, string | undefined> = process.env): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new ConfigError([`cannot read ${path}: ${(err as Error).message}`]);
  }
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError([`${path} is not valid YAML: ${(err as Error).message}`]);
  }
  return parseConfig(raw, env);
}
