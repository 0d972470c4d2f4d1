import pino, { type Logger } from 'pino';

export type { Logger };

/**
 * The one logger factory: JSON lines on stdout, with `service` on every line. Passwords, tokens and
 * connection strings are redacted wherever they appear as fields, so a config or error object can be logged
 * safely. `npm start` prettifies these lines itself (services/local), so services never pretty-print.
 */
export function createLogger(service: string, level = 'info', destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: { service },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: {
        paths: [
          'password', '*.password', '*.*.password',
          'connectionString', '*.connectionString', '*.*.connectionString',
          'apiToken', '*.apiToken', 'token', '*.token',
          'req.headers.authorization', 'headers.authorization',
        ],
        censor: '[redacted]',
      },
    },
    destination,
  );
}
