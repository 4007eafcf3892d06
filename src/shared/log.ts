export type LogLevel = 'debug' | 'info' | 'warn' | 'error';

export type LogFields = Record<string, unknown>;

export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
  /** A logger that adds `fields` to every line. */
  child(fields: LogFields): Logger;
  /**
   * Whether a line at `level` would be written, for callers that would otherwise build its
   * fields for nothing. Optional: without it, callers assume it would.
   */
  enabled?(level: LogLevel): boolean;
}

export interface LoggerOptions {
  level?: LogLevel;
  /** Where a finished JSON line goes; console.log by default (works on Node and Workers). */
  sink?: (line: string) => void;
  now?: () => Date;
}

const order: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

// Keys whose values never reach a log line, whatever their nesting.
const sensitiveKey =
  /pass(word|wd)?|secret|token|cookie|authorization|api[-_]?key|credential|session_token/i;
// Values that look like Kratos session tokens or bearer credentials are scrubbed even
// under innocent keys (an error message, a URL).
const sensitiveValue = /\bory_[a-z]{2}_[A-Za-z0-9]{8,}|\bBearer\s+[^\s"]+/g;

export const REDACTED = '[REDACTED]';

/** Returns a copy of `value` with secrets replaced, safe to serialise into a log line. */
export function redact(value: unknown, depth = 0): unknown {
  if (typeof value === 'string') return value.replace(sensitiveValue, REDACTED);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 6) return '[…]';
  if (value instanceof Error) {
    return redact({ name: value.name, message: value.message, stack: value.stack }, depth + 1);
  }
  if (Array.isArray(value)) return value.map((v) => redact(v, depth + 1));
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] = sensitiveKey.test(k) ? REDACTED : redact(v, depth + 1);
  }
  return out;
}

/**
 * A JSON-lines logger with redaction of passwords, tokens, cookies and API keys. A class, so
 * that `child()` (once per request) is a small object rather than a new set of closures.
 */
class JsonLogger implements Logger {
  private merged: LogFields | undefined;

  constructor(
    private readonly min: number,
    private readonly sink: (line: string) => void,
    private readonly now: () => Date,
    /** The parent's fields, then this logger's own: a child copies nothing when made (one per request). */
    private readonly inherited: LogFields,
    private readonly own: LogFields,
  ) {}

  private write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (order[level] < this.min) return;
    const record = redact({ level, time: this.now().toISOString(), msg, ...this.inherited, ...this.own, ...fields });
    this.sink(JSON.stringify(record));
  }

  enabled(level: LogLevel): boolean {
    return order[level] >= this.min;
  }
  debug(msg: string, fields?: LogFields): void {
    this.write('debug', msg, fields);
  }
  info(msg: string, fields?: LogFields): void {
    this.write('info', msg, fields);
  }
  warn(msg: string, fields?: LogFields): void {
    this.write('warn', msg, fields);
  }
  error(msg: string, fields?: LogFields): void {
    this.write('error', msg, fields);
  }
  child(fields: LogFields): Logger {
    this.merged ??= Object.assign({}, this.inherited, this.own);
    return new JsonLogger(this.min, this.sink, this.now, this.merged, fields);
  }
}

export function createLogger(options: LoggerOptions = {}, bound: LogFields = {}): Logger {
  return new JsonLogger(
    order[options.level ?? 'info'],
    options.sink ?? ((line: string) => console.log(line)),
    options.now ?? (() => new Date()),
    {},
    bound,
  );
}
