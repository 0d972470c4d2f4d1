import { waitUntilDurable } from '../../common/src/db/durability';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import type { UpdateTaskStatusRequest, UpdateTaskStatusResponse } from '../../common/src/grpc/contract';
import { markFailed, markStarted, markSucceeded, type Transition } from './db/record-transitions';
import { isUuid } from '../../common/src/validation';

export interface RecordedOutcome {
  /** The report applied; false for a stale attempt, a duplicate, or a task not in flight. */
  applied: boolean;
  /** For an applied FAILED: true when it used the last attempt, false when the task will be retried. */
  final?: boolean;
}

export interface StatusRecorderOptions {
  pool: Pool;
  logger: Logger;
  backoff: { baseMs: number; maxMs: number };
  /** Called once per report, applied or not (outcome.applied tells), after the write committed. */
  onRecorded?: (update: UpdateTaskStatusRequest, outcome: RecordedOutcome) => void;
}

/** One RPC's reports, answered together: one promise per call, not per report. */
interface Pending {
  updates: readonly UpdateTaskStatusRequest[];
  resolve: (outcomes: RecordedOutcome[]) => void;
  reject: (err: Error) => void;
}

/**
 * Writes worker status reports to the database in batches. Reports from every concurrent RPC are queued;
 * while one flush is writing, the next batch gathers, so under load each statement carries hundreds of
 * reports and at rest a report is written at once. The statements commit without waiting for the disk, and
 * the reports are acknowledged only once they are durable (waitUntilDurable), so an acknowledged
 * transition survives a crash. Waiting in the commit instead held PostgreSQL's NOTIFY lock (the events
 * trigger notifies) through every disk flush stall, and the inserts and claims, which notify too, queued
 * behind it (durability.ts).
 */
export class StatusRecorder {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly options: StatusRecorderOptions) {}

  async record(update: UpdateTaskStatusRequest): Promise<RecordedOutcome> {
    const [outcome] = await this.enqueue([update]);
    return outcome;
  }

  async recordAll(updates: readonly UpdateTaskStatusRequest[]): Promise<UpdateTaskStatusResponse[]> {
    if (updates.length === 0) return [];
    const outcomes = await this.enqueue(updates);
    return outcomes.map((outcome) => ({
      success: outcome.applied,
      message: outcome.applied ? 'recorded' : 'not applied: stale attempt, or the task is not in flight',
    }));
  }

  private enqueue(updates: readonly UpdateTaskStatusRequest[]): Promise<RecordedOutcome[]> {
    return new Promise((resolve, reject) => {
      this.queue.push({ updates, resolve, reject });
      if (!this.flushing) void this.flush();
    });
  }

  private async flush(): Promise<void> {
    this.flushing = true;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue;
        this.queue = [];
        try {
          await this.write(batch);
        } catch (err) {
          this.options.logger.error({ err, calls: batch.length }, 'writing status reports failed');
          for (const pending of batch) pending.reject(err as Error);
        }
      }
    } finally {
      this.flushing = false;
    }
  }

  private async write(batch: Pending[]): Promise<void> {
    const { pool, backoff, onRecorded } = this.options;
    const started: Transition[] = [];
    const succeeded: Transition[] = [];
    const failed: Transition[] = [];
    for (const { updates } of batch) {
      for (const update of updates) {
        const transition = toTransition(update);
        if (update.status === 'STARTED') started.push(transition);
        else if (update.status === 'COMPLETE') succeeded.push(transition);
        else if (update.status === 'FAILED') failed.push(transition);
      }
    }
    // STARTED first: a fast task's STARTED and COMPLETE often arrive in the same batch.
    const startedIds = await markStarted(pool, started);
    const [succeededIds, failure] = await Promise.all([
      markSucceeded(pool, succeeded),
      markFailed(pool, failed, backoff),
    ]);
    await waitUntilDurable(pool);
    for (const pending of batch) {
      pending.resolve(pending.updates.map((update) => {
        const id = update.task_id.toLowerCase();
        let outcome: RecordedOutcome;
        if (update.status === 'STARTED') outcome = { applied: startedIds.has(id) };
        else if (update.status === 'COMPLETE') outcome = { applied: succeededIds.has(id) };
        else outcome = { applied: failure.applied.has(id), final: failure.final.has(id) };
        onRecorded?.(update, outcome);
        return outcome;
      }));
    }
  }
}

/** Validates a report before it is queued, so one bad report cannot fail a whole batch's statement. */
export function reportProblem(update: UpdateTaskStatusRequest): { field: string; message: string } | undefined {
  if (!isUuid(update.task_id)) return { field: 'task_id', message: 'task_id must be a UUID' };
  if (!['STARTED', 'COMPLETE', 'FAILED'].includes(update.status)) {
    return { field: 'status', message: 'status must be STARTED, COMPLETE or FAILED' };
  }
  if (!Number.isInteger(update.attempt) || update.attempt < 0 || update.attempt > 2 ** 31 - 1) {
    return { field: 'attempt', message: 'attempt must be a non-negative 32-bit integer' };
  }
  return undefined;
}

function toTransition(update: UpdateTaskStatusRequest): Transition {
  const seconds = update.status === 'STARTED' ? update.started_at : update.status === 'COMPLETE' ? update.completed_at : update.failed_at;
  return {
    taskId: update.task_id,
    attempt: update.attempt,
    workerId: update.worker_id,
    atMs: update.at_ms > 0 ? update.at_ms : seconds > 0 ? seconds * 1000 : Date.now(),
    detail: update.status === 'FAILED' ? update.error : update.status === 'COMPLETE' ? update.result : '',
    startedAtMs: update.status !== 'STARTED' && update.started_at_ms > 0 ? update.started_at_ms : null,
  };
}
