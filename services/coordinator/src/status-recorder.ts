import { waitUntilDurable } from '../../common/src/db/durability';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import type { UpdateTaskStatusRequest, UpdateTaskStatusResponse } from '../../common/src/grpc/contract';
import { markFailed, markStarted, markSucceeded, type Transition } from './db/record-transitions';
import { isUuid } from '../../common/src/validation';
import { isStorableTime, MAX_ERROR_LENGTH, MAX_RESULT_LENGTH, resultAsJson, wellFormed } from './report-content';

export interface ReportProblem {
  field: string;
  message: string;
}

export interface RecordedOutcome {
  /** The report applied; false for a stale attempt, a duplicate, a task not in flight, or a bad report. */
  applied: boolean;
  /** For an applied FAILED: true when it used the last execution, false when the task will be retried. */
  final?: boolean;
  /**
   * The worker the attempt belonged to: for an applied report, the one it was sent to (original workers
   * report no worker id); otherwise the reporter as far as known (its worker id, or the original worker its
   * connection belongs to); null when unknown.
   */
  workerId: number | null;
  /** Set for a report refused before it was written: the field at fault. Not passed to onRecorded. */
  problem?: ReportProblem;
}

export interface StatusRecorderOptions {
  pool: Pool;
  logger: Logger;
  backoff: { baseMs: number; maxMs: number };
  /** Called once per well-formed report, applied or not (outcome.applied tells), after the write committed. */
  onRecorded?: (update: UpdateTaskStatusRequest, outcome: RecordedOutcome) => void;
}

/** A report checked and converted for the database, or refused with the field at fault. */
type Prepared = { update: UpdateTaskStatusRequest; transition: Transition } | { update: UpdateTaskStatusRequest; problem: ReportProblem };

/** One RPC's reports, answered together: one promise per call, not per report. */
interface Pending {
  reports: Prepared[];
  resolve: (outcomes: RecordedOutcome[]) => void;
  reject: (err: Error) => void;
}

/**
 * Writes worker status reports to the database in batches. Reports from every concurrent RPC are queued;
 * while one flush is writing, the next batch gathers, so under load each statement carries hundreds of
 * reports and at rest a report is written at once. A report PostgreSQL would refuse is refused alone before
 * it is queued (report-content.ts), so it cannot fail its batch. The statements commit without waiting for
 * the disk, and the reports are acknowledged only once they are durable (waitUntilDurable), so an
 * acknowledged transition survives a crash. Waiting in the commit instead held PostgreSQL's NOTIFY lock (the
 * events trigger notifies) through every disk flush stall, and the inserts and claims, which notify too,
 * queued behind it (durability.ts).
 */
export class StatusRecorder {
  private queue: Pending[] = [];
  private flushing = false;

  constructor(private readonly options: StatusRecorderOptions) {}

  /**
   * Records one report. `legacyWorkerId`: the original-contract worker whose connection sent it (service.ts
   * resolves it from the peer); an attempt-0 report applies only to an attempt that worker holds. `sender`:
   * the worker known to have sent it (its Connect stream's, its certificate's); the report then applies only
   * to an attempt sent to that worker.
   */
  async record(update: UpdateTaskStatusRequest, legacyWorkerId: number | null = null, sender: number | null = null): Promise<RecordedOutcome> {
    const [outcome] = await this.enqueue([prepare(update, legacyWorkerId, sender)]);
    return outcome;
  }

  /** Records one RPC's reports; a bad report gets success=false naming its field, the others are written. */
  async recordAll(
    updates: readonly UpdateTaskStatusRequest[], legacyWorkerId: number | null = null, sender: number | null = null,
  ): Promise<UpdateTaskStatusResponse[]> {
    if (updates.length === 0) return [];
    const outcomes = await this.enqueue(updates.map((update) => prepare(update, legacyWorkerId, sender)));
    return outcomes.map((outcome) => ({
      success: outcome.applied,
      message: outcome.problem ? `${outcome.problem.field}: ${outcome.problem.message}`
        : outcome.applied ? 'recorded' : 'not applied: stale attempt, or the task is not in flight',
    }));
  }

  private enqueue(reports: Prepared[]): Promise<RecordedOutcome[]> {
    if (reports.every((report) => 'problem' in report)) return Promise.resolve(reports.map(refused));
    return new Promise((resolve, reject) => {
      this.queue.push({ reports, resolve, reject });
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
    for (const { reports } of batch) {
      for (const report of reports) {
        if ('problem' in report) continue;
        const { status } = report.update;
        if (status === 'STARTED') started.push(report.transition);
        else if (status === 'COMPLETE') succeeded.push(report.transition);
        else if (status === 'FAILED') failed.push(report.transition);
      }
    }
    // STARTED first: a fast task's STARTED and COMPLETE often arrive in the same batch.
    const startedBy = await markStarted(pool, started);
    const [succeededBy, failure] = await Promise.all([
      markSucceeded(pool, succeeded),
      markFailed(pool, failed, backoff),
    ]);
    await waitUntilDurable(pool);
    for (const pending of batch) {
      pending.resolve(pending.reports.map((report) => {
        if ('problem' in report) return refused(report);
        const { update, transition } = report;
        const id = transition.taskId;
        const appliedBy = update.status === 'STARTED' ? startedBy : update.status === 'COMPLETE' ? succeededBy : failure.applied;
        const applied = appliedBy.has(id);
        const outcome: RecordedOutcome = {
          applied,
          workerId: applied ? appliedBy.get(id) ?? null : update.worker_id || transition.heldBy,
        };
        if (update.status === 'FAILED') outcome.final = failure.final.has(id);
        onRecorded?.(update, outcome);
        return outcome;
      }));
    }
  }
}

function refused(report: Prepared): RecordedOutcome {
  return { applied: false, workerId: null, problem: 'problem' in report ? report.problem : undefined };
}

const TIME_FIELDS = [
  ['at_ms', 1, 'Unix milliseconds'],
  ['started_at_ms', 1, 'Unix milliseconds'],
  ['started_at', 1000, 'Unix seconds'],
  ['completed_at', 1000, 'Unix seconds'],
  ['failed_at', 1000, 'Unix seconds'],
] as const;

/**
 * Validates a report before it is queued, so one bad report cannot fail a whole batch's statement: every
 * value must be one PostgreSQL stores (report-content.ts).
 */
function reportProblem(update: UpdateTaskStatusRequest): ReportProblem | undefined {
  if (!isUuid(update.task_id)) return { field: 'task_id', message: 'task_id must be a UUID' };
  if (!['STARTED', 'COMPLETE', 'FAILED'].includes(update.status)) {
    return { field: 'status', message: 'status must be STARTED, COMPLETE or FAILED' };
  }
  if (!Number.isInteger(update.attempt) || update.attempt < 0 || update.attempt > 2 ** 31 - 1) {
    return { field: 'attempt', message: 'attempt must be a non-negative 32-bit integer' };
  }
  for (const [field, unitMs, unit] of TIME_FIELDS) {
    const value = update[field] ?? 0;
    if (!isStorableTime(value, unitMs)) {
      return { field, message: `${field} must be ${unit} from 0 (not sent) to the end of year 9999` };
    }
  }
  const error = update.error ?? '';
  if (error.includes('\u0000')) return { field: 'error', message: 'error must not contain NUL characters' };
  if (error.length > MAX_ERROR_LENGTH) return { field: 'error', message: `error must be at most ${MAX_ERROR_LENGTH} characters` };
  const result = update.result ?? '';
  if (result.includes('\u0000')) return { field: 'result', message: 'result must not contain NUL characters' };
  if (result.length > MAX_RESULT_LENGTH) return { field: 'result', message: `result must be at most ${MAX_RESULT_LENGTH} characters` };
  return undefined;
}

function prepare(update: UpdateTaskStatusRequest, legacyWorkerId: number | null, sender: number | null): Prepared {
  const problem = reportProblem(update);
  if (problem) return { update, problem };
  return { update, transition: toTransition(update, legacyWorkerId, sender) };
}

function toTransition(update: UpdateTaskStatusRequest, legacyWorkerId: number | null, sender: number | null): Transition {
  const seconds = update.status === 'STARTED' ? update.started_at : update.status === 'COMPLETE' ? update.completed_at : update.failed_at;
  return {
    taskId: update.task_id.toLowerCase(),
    attempt: update.attempt,
    heldBy: update.attempt === 0 ? legacyWorkerId : sender,
    atMs: update.at_ms > 0 ? update.at_ms : seconds > 0 ? seconds * 1000 : Date.now(),
    detail: update.status === 'FAILED' ? wellFormed(update.error ?? '') : update.status === 'COMPLETE' ? resultAsJson(update.result ?? '') : '',
    startedAtMs: update.status !== 'STARTED' && update.started_at_ms > 0 ? update.started_at_ms : null,
    noRetry: update.no_retry,
  };
}
