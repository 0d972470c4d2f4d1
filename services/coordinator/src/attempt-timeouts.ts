import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { findOverdueAttempts } from './db/overdue-attempts';
import { markFailed } from './db/record-transitions';
import type { WorkerRegistry } from './registry';
import { stopAttempts } from './task-stops';

export interface AttemptTimeoutsOptions {
  pool: Pool;
  registry: WorkerRegistry;
  logger: Logger;
  backoff: { baseMs: number; maxMs: number };
  /** TASK_TIMEOUT_GRACE: how long past its timeout an attempt may stay held before the coordinator fails it. */
  graceMs: number;
  /** How often to look while attempts with a timeout are in flight. */
  checkMs: number;
  /** Called with the number of attempts failed here that will be retried, so the dispatcher claims them. */
  onFailed: (retried: number) => void;
}

/** Looked for at least this often whatever this coordinator sent: another one's attempts may be overdue. */
const IDLE_CHECK_MS = 60_000;
const SWEEP_LIMIT = 500;

/**
 * The coordinator's backstop for task timeouts (docs/architecture.md, "Cancelling and timeouts"). A worker
 * aborts an attempt at its timeout and reports it failed; an attempt still held `graceMs` later is failed
 * here, through the same fenced statement as a worker's FAILED report (so it retries while executions are
 * left), and its worker is told to drop it. It looks every `checkMs` while attempts with a timeout that this
 * coordinator sent may be running, and once a minute otherwise, so a coordinator without timed tasks sends
 * no extra statements.
 */
export class AttemptTimeouts {
  private timer: NodeJS.Timeout | undefined;
  private busy = Promise.resolve();
  /** performance.now() until which attempts with a timeout that this coordinator sent may still be held. */
  private timedUntil = 0;
  private lastCheck = performance.now();

  constructor(private readonly options: AttemptTimeoutsOptions) {}

  start(): void {
    this.timer = setInterval(() => {
      const now = performance.now();
      if (now > this.timedUntil && now - this.lastCheck < IDLE_CHECK_MS) return;
      this.lastCheck = now;
      this.busy = this.busy.then(async () => void await this.failOverdue()).catch((err) => this.options.logger.error({ err }, 'timeout sweep failed'));
    }, this.options.checkMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.busy;
  }

  /** A task with this timeout was sent to a worker: look often until it must have ended. */
  sent(timeoutSeconds: number): void {
    const until = performance.now() + timeoutSeconds * 1000 + this.options.graceMs + 2 * this.options.checkMs;
    if (until > this.timedUntil) this.timedUntil = until;
  }

  /** Fails the overdue attempts and tells their workers; returns how many were failed. */
  async failOverdue(): Promise<number> {
    const { pool, registry, logger, backoff, graceMs } = this.options;
    const overdue = await findOverdueAttempts(pool, graceMs, SWEEP_LIMIT);
    if (overdue.length === 0) return 0;
    const atMs = Date.now();
    const { applied, final } = await markFailed(pool, overdue.map((attempt) => ({
      taskId: attempt.task_id,
      attempt: attempt.attempt,
      heldBy: null,
      atMs,
      detail: `timed out: still held by worker ${attempt.worker_id} ${Math.round(graceMs / 1000)} s after its ${attempt.timeout_seconds} s timeout`,
      startedAtMs: null,
    })), backoff);
    const failed = overdue.filter((attempt) => applied.has(attempt.task_id));
    stopAttempts(registry, failed, 'timed out', logger);
    logger.warn({ timed_out: failed.length, retried: failed.length - final.size }, 'attempts held past their timeout failed by the coordinator');
    this.options.onFailed(failed.length - final.size);
    return failed.length;
  }
}
