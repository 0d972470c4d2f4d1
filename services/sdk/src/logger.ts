/**
 * The logger the SDK writes to: the pino-style `(fields, message)` subset, so a pino logger (or anything
 * shaped like it) can be passed as is. The SDK depends on no logging library.
 */
export interface Logger {
  debug(fields: object, message?: string): void;
  info(fields: object, message?: string): void;
  warn(fields: object, message?: string): void;
  error(fields: object, message?: string): void;
  /** A logger that adds `bindings` to every line; without it, the SDK merges them itself. */
  child?(bindings: Record<string, unknown>): Logger;
}

/** The default: warnings and errors as JSON lines on stderr, nothing else, so a worker is quiet unless something is wrong. */
export const stderrLogger: Logger = {
  debug() {},
  info() {},
  warn: (fields, message) => process.stderr.write(`${JSON.stringify({ level: 'warn', msg: message, ...fields })}\n`),
  error: (fields, message) => process.stderr.write(`${JSON.stringify({ level: 'error', msg: message, ...fields })}\n`),
};

/** `logger` with `bindings` on every line, through its own child() when it has one. */
export function childLogger(logger: Logger, bindings: Record<string, unknown>): Logger {
  if (logger.child) return logger.child(bindings);
  return {
    debug: (fields, message) => logger.debug({ ...bindings, ...fields }, message),
    info: (fields, message) => logger.info({ ...bindings, ...fields }, message),
    warn: (fields, message) => logger.warn({ ...bindings, ...fields }, message),
    error: (fields, message) => logger.error({ ...bindings, ...fields }, message),
  };
}
