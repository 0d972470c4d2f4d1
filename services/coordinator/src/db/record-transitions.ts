import { booleanArray, numberArray, textArray, uuidArray } from '../../../common/src/db/array-literal';
import { ASYNC_COMMIT } from '../../../common/src/db/durability';
import type { Pool } from '../../../common/src/db/pool';

/**
 * One worker report, ready for the database. attempt 0 = an original-contract worker, which sends no
 * attempts: such a report applies only to an attempt held by `heldBy`, the original worker the report's
 * connection belongs to (service.ts resolves it; null = none, and the report applies nowhere). A report with
 * an attempt applies only if that attempt was sent to `heldBy`, when the sender is known (a Connect stream's
 * worker, a worker certificate's); null = any.
 */
export interface Transition {
  taskId: string;
  attempt: number;
  heldBy: number | null;
  /** When it happened, in Unix ms (the worker's clock; the statements clamp it, see below). */
  atMs: number;
  /** The error (failed) or the result as JSON text (succeeded); '' when none. */
  detail: string;
  /** With a finish: when the task started (Unix ms), if its worker sent no STARTED (it finished first). */
  startedAtMs: number | null;
  /** With a failure: final whatever executions are left (UpdateTaskStatusRequest.no_retry). */
  noRetry?: boolean;
}

/*
 * Status reports, written many per statement: `UPDATE ... FROM unnest(...)` costs one round trip for a whole
 * batch, where one UPDATE per report caps the pipeline near 2k tasks/s (DESIGN.md §8).
 * Fencing: a report with an attempt applies only to that attempt, and, when its sender is known, only if the
 * attempt was sent to that worker; an attempt-0 report (original workers) only to an attempt held by the
 * original worker whose connection sent it. Its status must allow the
 * transition, so a zombie worker's report, a duplicate, a STARTED after the finish, or a report for a task
 * that was handed to someone else changes nothing. No report changes worker_id: the claim set it, so
 * RETURNING t.worker_id is the worker the attempt was sent to. The AFTER UPDATE trigger records the events in
 * the same statement. The statements commit without waiting for the disk (ASYNC_COMMIT): the recorder waits
 * until they are durable before it acknowledges the reports (status-recorder.ts).
 * Parameters of all three: $1 task ids, $2 attempts, $3 held-by worker ids, $4 times, $5 details, $6 start
 * times. Times go as Unix ms (float8), not timestamptz: formatting a Date per value was 3 % of the
 * coordinator's CPU (--cpu-prof, node-postgres' dateToString).
 */
const fromReports = (extra: { parameter: string; column: string } | undefined) => `
  FROM async_commit,
       (SELECT id, attempt, held_by, to_timestamp(at_ms / 1000) AS at, detail, to_timestamp(started_ms / 1000) AS started_at${extra ? `, ${extra.column}` : ''}
        FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::float8[], $5::text[], $6::float8[]${extra ? `, ${extra.parameter}` : ''})
             AS u(id, attempt, held_by, at_ms, detail, started_ms${extra ? `, ${extra.column}` : ''})) r
  WHERE t.id = r.id
    AND CASE WHEN r.attempt = 0 THEN t.worker_id = r.held_by ELSE t.attempt = r.attempt AND (r.held_by IS NULL OR t.worker_id = r.held_by) END`;
const FROM_REPORTS = fromReports(undefined);

/*
 * Stored times come from the worker's clock, in whole seconds from original workers, so they are clamped by
 * the database's: never after now(), a start never before the claim (picked_at) nor before the task was due
 * (scheduled_at; a task claimed ahead is picked before it is due), a finish never before its start. The
 * lower bound wins, so started_at >= scheduled_at and completed_at, failed_at >= started_at hold in the data.
 */
const startedAtFrom = (reported: string) => `greatest(least(${reported}, now()), t.picked_at, t.scheduled_at)`;

const MARK_STARTED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = 'running', started_at = ${startedAtFrom('r.at')}, executions = t.executions + 1, updated_at = now()
  ${FROM_REPORTS} AND t.status = 'dispatched'
  RETURNING t.id, t.worker_id`;

// A finish may come without a STARTED applied: it was folded into the finish (r.started_at), written in the
// same flush, or never sent (old workers). A task still `dispatched` starts now, in this statement (one more
// execution); the trigger of migration 0004 records its 'started' event before the finish's.
const STARTED_AT = `CASE WHEN t.status = 'dispatched' THEN ${startedAtFrom('coalesce(r.started_at, r.at)')} ELSE t.started_at END`;
const FINISHED_AT = `greatest(least(r.at, now()), t.picked_at, ${STARTED_AT})`;
const EXECUTIONS = `t.executions + (t.status = 'dispatched')::int`;

const MARK_SUCCEEDED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = 'succeeded', completed_at = ${FINISHED_AT}, started_at = ${STARTED_AT}, executions = ${EXECUTIONS},
      result = nullif(r.detail, '')::jsonb, lease_expires_at = NULL, updated_at = now()
  ${FROM_REPORTS} AND t.status IN ('dispatched', 'running')
  RETURNING t.id, t.worker_id`;

// The retry budget counts executions, not claims (migration 0006): a delivery that never ran costs nothing.
// With executions left, and unless the report says no_retry ($9), a failure goes back to pending after a
// backoff by the task's retry policy (migration 0014), each part defaulting to the coordinator's: exponential
// from $7 ms (base * 2^(executions-1)) or fixed at it, capped at $8 ms, times a random factor in [0.5, 1)
// unless jitter is off.
const RETRIES_LEFT = `(${EXECUTIONS} < t.max_attempts AND NOT r.no_retry)`;
const RETRY_DELAY_MS = `
  least(coalesce((t.retry ->> 'max_delay_seconds')::float8 * 1000, $8::float8),
        coalesce((t.retry ->> 'delay_seconds')::float8 * 1000, $7::float8)
          * CASE WHEN t.retry ->> 'backoff' = 'fixed' THEN 1 ELSE 2 ^ (${EXECUTIONS} - 1) END)
  * CASE WHEN t.retry ->> 'jitter' = 'false' THEN 1 ELSE 0.5 + random() / 2 END`;
const MARK_FAILED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = CASE WHEN ${RETRIES_LEFT} THEN 'pending' ELSE 'failed' END::task_status,
      failed_at = ${FINISHED_AT}, started_at = ${STARTED_AT}, executions = ${EXECUTIONS},
      last_error = nullif(r.detail, ''), lease_expires_at = NULL, updated_at = now(),
      scheduled_at = CASE WHEN ${RETRIES_LEFT} THEN now() + make_interval(secs => ${RETRY_DELAY_MS} / 1000) ELSE t.scheduled_at END
  ${fromReports({ parameter: '$9::bool[]', column: 'no_retry' })} AND t.status IN ('dispatched', 'running')
  RETURNING t.id, t.worker_id, t.status = 'failed' AS final`;

function reportValues(reports: readonly Transition[]): unknown[] {
  // Task ids were checked as UUIDs before they were queued (status-recorder.ts).
  return [
    uuidArray(reports.map((r) => r.taskId)),
    numberArray(reports.map((r) => r.attempt)),
    numberArray(reports.map((r) => r.heldBy)),
    numberArray(reports.map((r) => r.atMs)),
    textArray(reports.map((r) => r.detail)),
    numberArray(reports.map((r) => r.startedAtMs)),
  ];
}

/** Reports that applied: task id → the worker the attempt was sent to (worker_id, unchanged by the report). */
export type Applied = Map<string, number | null>;

function appliedOf(rows: readonly { id: string; worker_id: number | null }[]): Applied {
  return new Map(rows.map((row) => [row.id, row.worker_id]));
}

export async function markStarted(pool: Pool, reports: readonly Transition[]): Promise<Applied> {
  if (reports.length === 0) return new Map();
  const { rows } = await pool.query<{ id: string; worker_id: number | null }>({
    name: 'mark-started', text: MARK_STARTED, values: reportValues(reports),
  });
  return appliedOf(rows);
}

export async function markSucceeded(pool: Pool, reports: readonly Transition[]): Promise<Applied> {
  if (reports.length === 0) return new Map();
  const { rows } = await pool.query<{ id: string; worker_id: number | null }>({
    name: 'mark-succeeded', text: MARK_SUCCEEDED, values: reportValues(reports),
  });
  return appliedOf(rows);
}

export interface FailureOutcome {
  applied: Applied;
  /** Of those, the ones that used their last execution (now `failed`); the others will be retried. */
  final: Set<string>;
}

export async function markFailed(
  pool: Pool,
  reports: readonly Transition[],
  backoff: { baseMs: number; maxMs: number },
): Promise<FailureOutcome> {
  if (reports.length === 0) return { applied: new Map(), final: new Set() };
  const { rows } = await pool.query<{ id: string; worker_id: number | null; final: boolean }>({
    name: 'mark-failed',
    text: MARK_FAILED,
    values: [...reportValues(reports), backoff.baseMs, backoff.maxMs, booleanArray(reports.map((r) => r.noRetry === true))],
  });
  return {
    applied: appliedOf(rows),
    final: new Set(rows.filter((row) => row.final).map((row) => row.id)),
  };
}

/*
 * Of the given ids, those that exist: tells a stale report (the task exists) from an unknown task id.
 */
const EXISTING_TASKS = `SELECT id FROM tasks WHERE id = ANY($1::uuid[])`;

export async function existingTaskIds(pool: Pool, ids: readonly string[]): Promise<Set<string>> {
  const { rows } = await pool.query<{ id: string }>(EXISTING_TASKS, [ids]);
  return new Set(rows.map((row) => row.id));
}
