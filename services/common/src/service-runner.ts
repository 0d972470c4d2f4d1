import { loadConfig, type Config } from './config';
import { ConfigError } from './errors';
import { createLogger, type Logger } from './logger';
import { enableProcessMetrics } from './metrics';

const STOP_MARGIN_MS = 15_000;

export interface ServiceContext {
  config: Config;
  logger: Logger;
  /** Registers a releaser; on shutdown they run in reverse order of registration. */
  onStop(release: () => Promise<unknown> | unknown): void;
}

/**
 * The frame every main.ts runs in: config (exits with one line per bad variable), logger, process metrics
 * labelled with the service's name, and an orderly shutdown on SIGTERM/SIGINT, or when the parent that
 * started this process over IPC (npm start, the local scaler) goes away, so no process is left orphaned.
 * A start-up failure is logged and exits 1.
 */
export function runService(name: string, start: (context: ServiceContext) => Promise<void>): void {
  let config: Config;
  try {
    config = loadConfig();
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : String(err);
    process.stderr.write(`${name}: ${message}\n`);
    process.exit(2);
  }
  const logger = createLogger(name, config.logLevel);
  enableProcessMetrics(name);
  const releasers: Array<() => Promise<unknown> | unknown> = [];
  let stopping: Promise<void> | undefined;

  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      logger.info({ reason }, `${name} stopping`);
      for (const release of releasers.reverse()) {
        try {
          await release();
        } catch (err) {
          logger.warn({ err }, 'error while stopping');
        }
      }
      logger.info(`${name} stopped`);
    })();
    return stopping;
  };

  const exitAfterStop = (reason: string, code: number) => {
    // A releaser that never settles (a peer that never answers) must not leave the process running:
    // past the worker's drain timeout plus a margin, exit anyway.
    const deadline = config.worker.drainTimeoutMs + STOP_MARGIN_MS;
    setTimeout(() => {
      logger.error({ reason, deadline_ms: deadline }, `${name} did not stop in time; exiting`);
      process.exit(code || 1);
    }, deadline).unref();
    void stop(reason).finally(() => process.exit(code));
  };
  process.once('SIGTERM', () => exitAfterStop('SIGTERM', 0));
  process.once('SIGINT', () => exitAfterStop('SIGINT', 0));
  if (process.send) process.once('disconnect', () => exitAfterStop('parent process gone', 0));
  process.on('unhandledRejection', (err) => logger.error({ err }, 'unhandled rejection'));

  start({ config, logger, onStop: (release) => releasers.push(release) }).catch((err: Error) => {
    logger.fatal({ err: { message: err.message, stack: err.stack } }, `${name} failed to start: ${err.message}`);
    exitAfterStop('start-up failed', 1);
  });
}
