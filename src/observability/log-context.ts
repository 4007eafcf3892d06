import type { LogFields, Logger } from '../shared/log.ts';
import type { Tracing } from './telemetry.ts';

/**
 * A logger that adds the current span's `trace_id` and `span_id` to every line, so a log line
 * leads to its trace. Any logger works (the user's own too); without tracing it is returned as is.
 */
export function withTraceIds(logger: Logger, tracing: Tracing): Logger {
  if (!tracing.enabled) return logger;
  const withIds = (fields?: LogFields): LogFields | undefined => {
    const ids = tracing.logFields();
    return ids ? { ...ids, ...fields } : fields;
  };
  return {
    debug: (msg, fields) => logger.debug(msg, withIds(fields)),
    info: (msg, fields) => logger.info(msg, withIds(fields)),
    warn: (msg, fields) => logger.warn(msg, withIds(fields)),
    error: (msg, fields) => logger.error(msg, withIds(fields)),
    child: (fields) => withTraceIds(logger.child(fields), tracing),
    enabled: (level) => logger.enabled?.(level) ?? true,
  };
}
