import { ASYNC_COMMIT } from '../../../common/src/db/durability';
import type { Pool } from '../../../common/src/db/pool';

/** One worker report, ready for the database. attempt 0 = an old worker that does not send attempts. */
export interface Transition {
  taskId: string;
  attempt: number;
  workerId: number;
  /** When it happened, in Unix ms. */
  atMs: number;
  /** The error (failed) or result (succeeded); '' when none. */
  detail: string;
  /** With a finish: when the task started (Unix ms), if its worker sent no STARTED (it finished first). */
  startedAtMs: number | null;
}

/*
 * Status reports, written many per statement: `UPDATE ... FROM unnest(...)` costs one round trip for a whole
 * batch, where one UPDATE per report caps the pipeline near 2k tasks/s (DESIGN.md §8).
 * Fencing: a row is only updated when its attempt is the one reported (or the reporter is an old worker
 * sending attempt 0) and its status allows the transition, so a zombie worker's report, a duplicate, or a
 * report for a task that was handed to someone else changes nothing. RETURNING tells which reports applied.
 * The AFTER UPDATE trigger records the matching events in the same statement. The statements commit without
 * waiting for the disk (ASYNC_COMMIT): the recorder waits until they are durable before it acknowledges the
 * reports (status-recorder.ts).
 * Parameters of all three: $1 task ids, $2 attempts, $3 worker ids, $4 times, $5 details, $6 start times.
 * Times go as Unix ms (float8), not timestamptz: formatting a Date per value was 3 % of the coordinator's
 * CPU (--cpu-prof, node-postgres' dateToString).
 */
const FROM_REPORTS = `
  FROM async_commit,
       (SELECT id, attempt, worker_id, to_timestamp(at_ms / 1000) AS at, detail, to_timestamp(started_ms / 1000) AS started_at
        FROM unnest($1::uuid[], $2::int[], $3::bigint[], $4::float8[], $5::text[], $6::float8[])
             AS u(id, attempt, worker_id, at_ms, detail, started_ms)) r
  WHERE t.id = r.id AND (r.attempt = 0 OR t.attempt = r.attempt)`;

const MARK_STARTED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = 'running', started_at = r.at, worker_id = coalesce(nullif(r.worker_id, 0), t.worker_id), updated_at = now()
  ${FROM_REPORTS} AND t.status = 'dispatched'
  RETURNING t.id`;

// A finish may come without a STARTED applied: it was folded into the finish (r.started_at), written in the
// same flush, or never sent (old workers). A task still `dispatched` starts now, in this statement; the
// trigger of migration 0004 records its 'started' event before the finish's.
const STARTED_AT = `CASE WHEN t.status = 'dispatched' THEN coalesce(r.started_at, r.at) ELSE t.started_at END`;

const MARK_SUCCEEDED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = 'succeeded', completed_at = r.at, started_at = ${STARTED_AT},
      result = to_jsonb(nullif(r.detail, '')), lease_expires_at = NULL, updated_at = now()
  ${FROM_REPORTS} AND t.status IN ('dispatched', 'running')
  RETURNING t.id`;

// With attempts left, a failure goes back to pending after an exponential backoff with jitter
// ($7 base ms, $8 cap ms): base * 2^(attempt-1), capped, times a random factor in [0.5, 1).
const MARK_FAILED = `
  WITH ${ASYNC_COMMIT}
  UPDATE tasks t
  SET status = CASE WHEN t.attempt < t.max_attempts THEN 'pending' ELSE 'failed' END::task_status,
      failed_at = r.at, started_at = ${STARTED_AT},
      last_error = nullif(r.detail, ''), lease_expires_at = NULL, updated_at = now(),
      scheduled_at = CASE WHEN t.attempt < t.max_attempts
        THEN now() + make_interval(secs => least($8::float8, $7::float8 * 2 ^ (t.attempt - 1)) * (0.5 + random() / 2) / 1000)
        ELSE t.scheduled_at END
  ${FROM_REPORTS} AND t.status IN ('dispatched', 'running')
  RETURNING t.id, t.status = 'failed' AS final`;

function reportValues(reports: readonly Transition[]): unknown[] {
  return [
    reports.map((r) => r.taskId),
    reports.map((r) => r.attempt),
    reports.map((r) => r.workerId),
    reports.map((r) => r.atMs),
    reports.map((r) => r.detail),
    reports.map((r) => r.startedAtMs),
  ];
}

/** Returns the ids whose report applied. */
export async function markStarted(pool: Pool, reports: readonly Transition[]): Promise<Set<string>> {
  if (reports.length === 0) return new Set();
  const { rows } = await pool.query<{ id: string }>({ name: 'mark-started', text: MARK_STARTED, values: reportValues(reports) });
  return new Set(rows.map((row) => row.id));
}

export async function markSucceeded(pool: Pool, reports: readonly Transition[]): Promise<Set<string>> {
  if (reports.length === 0) return new Set();
  const { rows } = await pool.query<{ id: string }>({ name: 'mark-succeeded', text: MARK_SUCCEEDED, values: reportValues(reports) });
  return new Set(rows.map((row) => row.id));
}

export interface FailureOutcome {
  applied: Set<string>;
  /** Of those, the ones that used their last attempt (now `failed`); the others will be retried. */
  final: Set<string>;
}

export async function markFailed(
  pool: Pool,
  reports: readonly Transition[],
  backoff: { baseMs: number; maxMs: number },
): Promise<FailureOutcome> {
  if (reports.length === 0) return { applied: new Set(), final: new Set() };
  const { rows } = await pool.query<{ id: string; final: boolean }>({
    name: 'mark-failed',
    text: MARK_FAILED,
    values: [...reportValues(reports), backoff.baseMs, backoff.maxMs],
  });
  return {
    applied: new Set(rows.map((row) => row.id)),
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
