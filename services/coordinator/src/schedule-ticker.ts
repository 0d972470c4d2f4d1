import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { nextRuns, runsBetween } from '../../sdk/src/schedule-fields';
import { advanceSchedule, insertOccurrences, lockDueSchedules, nextScheduleInMs, type DueSchedule } from './db/fire-schedules';

export interface ScheduleTickerOptions {
  pool: Pool;
  logger: Logger;
  /** Tasks were made: the dispatcher should claim. */
  onFired: (tasks: number) => void;
  /** The longest sleep between looks, in case a notification is lost. */
  pollIntervalMs: number;
}

/** Schedules fired per transaction, and occurrences caught up per schedule per pass (catch_up: all). */
const BATCH = 100;
const MAX_CATCH_UP = 1000;
/** An occurrence later than this is missed: catch_up none drops it, last keeps only the newest. */
export const MISSED_AFTER_MS = 60_000;
const UNFINISHED = new Set(['pending', 'dispatched', 'running']);

/**
 * Fires recurring schedules (docs/schedules.md): sleeps until the earliest one is due (or a change wakes it,
 * NOTIFY taskmaster_schedules), then, in one transaction per batch, locks the due schedules, makes a task per
 * occurrence that catch_up and overlap allow, and moves each schedule to its next occurrence. Every
 * coordinator runs one; the row locks share the work and the occurrences' idempotency keys make each one task.
 */
export class ScheduleTicker {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private wakeRequested = false;
  private stopped = false;
  private idle: Promise<void> = Promise.resolve();

  constructor(private readonly options: ScheduleTickerOptions) {}

  start(): void {
    this.wake();
  }

  /** Look now (a schedule was made, changed or resumed). */
  wake(): void {
    if (this.stopped) return;
    this.wakeRequested = true;
    if (this.running) return;
    clearTimeout(this.timer);
    this.idle = this.loop();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.idle;
  }

  private async loop(): Promise<void> {
    this.running = true;
    let delay = this.options.pollIntervalMs;
    try {
      while (this.wakeRequested && !this.stopped) {
        this.wakeRequested = false;
        try {
          while ((await this.fireDue()) === BATCH && !this.stopped);
          const dueIn = await nextScheduleInMs(this.options.pool);
          delay = dueIn === null ? this.options.pollIntervalMs : Math.max(0, Math.min(Math.ceil(dueIn), this.options.pollIntervalMs));
        } catch (err) {
          this.options.logger.error({ err }, 'firing schedules failed; retrying');
          delay = Math.min(1000, this.options.pollIntervalMs);
        }
      }
    } finally {
      this.running = false;
    }
    if (!this.stopped) this.timer = setTimeout(() => this.wake(), delay);
  }

  /** One transaction: fires up to BATCH due schedules; returns how many it locked. */
  async fireDue(now = new Date()): Promise<number> {
    const client = await this.options.pool.connect();
    let made = 0;
    let locked = 0;
    try {
      await client.query('BEGIN');
      const due = await lockDueSchedules(client, BATCH);
      locked = due.length;
      for (const schedule of due) {
        const { occurrences, nextRunAt } = plan(schedule, now);
        const tasks = await insertOccurrences(client, schedule, occurrences);
        made += tasks.length;
        const last = tasks.at(-1);
        await advanceSchedule(client, schedule.id, nextRunAt, last?.scheduled_at ?? null, last?.id ?? null);
      }
      await client.query('COMMIT');
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
    if (made > 0) {
      this.options.logger.info({ schedules: locked, tasks: made }, 'schedules fired');
      this.options.onFired(made);
    }
    return locked;
  }
}

/**
 * Which occurrences of a due schedule become tasks now, and the next occurrence after them: the ones since
 * next_run_at (at most MAX_CATCH_UP), then catch_up (all of them; only the newest; or only those not missed),
 * then overlap: skip makes none while the last occurrence's task is unfinished, and at most one otherwise.
 */
export function plan(schedule: DueSchedule, now: Date): { occurrences: Date[]; nextRunAt: Date | null } {
  const { cron, timezone } = schedule;
  // next_run_at itself is due; runsBetween starts after its first argument.
  const due = [schedule.next_run_at, ...runsBetween(cron, timezone, schedule.next_run_at, now, MAX_CATCH_UP - 1)];
  const newest = due.at(-1)!;
  const [nextRunAt = null] = nextRuns(cron, timezone, newest, 1);
  let occurrences: Date[];
  if (schedule.catch_up === 'all') occurrences = due;
  else if (schedule.catch_up === 'last') occurrences = [newest];
  else occurrences = due.filter((at) => now.getTime() - at.getTime() <= MISSED_AFTER_MS);
  if (schedule.overlap === 'skip') {
    occurrences = schedule.last_status !== null && UNFINISHED.has(schedule.last_status) ? [] : occurrences.slice(-1);
  }
  return { occurrences, nextRunAt };
}
