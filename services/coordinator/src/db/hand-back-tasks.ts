import type { Pool, Queryable } from '../../../common/src/db/pool';

/** A task handed back, with the worker that held it (for slot accounting). */
export interface HandedBack {
  id: string;
  worker_id: number | null;
  /** It was running on its last execution: it ends `failed` instead of going back to `pending`. */
  failed: boolean;
}

/*
 * Three ways an unfinished task goes back to `pending` to be claimed again (DESIGN.md §2). Each keeps the
 * attempt counter (the next claim increments it, which fences off the old holder) and clears the lease; the
 * AFTER UPDATE trigger records a "reassigned" event and wakes the coordinators. A hand-back spends no
 * execution (the retry budget, migration 0006): a task that never ran loses nothing. A task that was
 * `running` had its execution counted when it started; if that was its last one, it ends `failed` with the
 * reason in last_error (the trigger records a 'failed' event), so a task that kills its workers is not
 * retried forever.
 */

/** The status CASE and its companions for a hand-back that may end a task: $reason says how it was lost. */
const OUT_OF_EXECUTIONS = `t.status = 'running' AND t.executions >= t.max_attempts`;
const handBackSet = (reason: string) => `
  status = CASE WHEN ${OUT_OF_EXECUTIONS} THEN 'failed' ELSE 'pending' END::task_status,
  failed_at = CASE WHEN ${OUT_OF_EXECUTIONS} THEN now() ELSE t.failed_at END,
  last_error = CASE WHEN ${OUT_OF_EXECUTIONS}
    THEN format('attempt %s lost: %s with no attempts left', t.attempt, ${reason}) ELSE t.last_error END,
  lease_expires_at = NULL, updated_at = now()`;

/*
 * Dispatches that did not arrive: the RPC failed or the worker refused them. Only the attempt that was sent
 * ($1 ids, $2 attempts) is handed back, and only while still `dispatched`: it never ran, so it always goes
 * back to `pending`.
 */
const HAND_BACK_DISPATCHES = `
  UPDATE tasks t
  SET status = 'pending', lease_expires_at = NULL, updated_at = now()
  FROM unnest($1::uuid[], $2::int[]) AS s(id, attempt)
  WHERE t.id = s.id AND t.attempt = s.attempt AND t.status = 'dispatched'
  RETURNING t.id, t.worker_id, false AS failed`;

export async function handBackDispatches(pool: Pool, tasks: readonly { id: string; attempt: number }[]): Promise<HandedBack[]> {
  if (tasks.length === 0) return [];
  const { rows } = await pool.query<HandedBack>(HAND_BACK_DISPATCHES, [tasks.map((t) => t.id), tasks.map((t) => t.attempt)]);
  return rows;
}

/*
 * Everything a worker held: it was evicted (missed heartbeats) or said it is leaving. Bounded to $2 rows per
 * statement; callers loop while a full batch comes back, so a worker with a huge backlog never makes one
 * giant transaction.
 */
const HAND_BACK_WORKER_TASKS = `
  UPDATE tasks t
  SET ${handBackSet('$2::text')}
  WHERE t.id = ANY(ARRAY(
    SELECT id FROM tasks
    WHERE worker_id = $1 AND status IN ('dispatched', 'running')
    LIMIT $3 FOR UPDATE SKIP LOCKED))
  RETURNING t.id, t.worker_id, t.status = 'failed' AS failed`;

/** Runs a hand-back statement, `limit` rows at a time, until a run returns fewer; every row handed back. */
async function handBackInBatches(pool: Queryable, sql: string, values: unknown[], limit: number): Promise<HandedBack[]> {
  const all: HandedBack[] = [];
  for (;;) {
    const { rows } = await pool.query<HandedBack>(sql, [...values, limit]);
    all.push(...rows);
    if (rows.length < limit) return all;
  }
}

/** `cause` names, in last_error, why a task on its last execution was lost. */
export function handBackWorkerTasks(
  pool: Queryable,
  workerId: number,
  limit = 1000,
  cause: 'worker evicted' | 'worker left' = 'worker evicted',
): Promise<HandedBack[]> {
  return handBackInBatches(pool, HAND_BACK_WORKER_TASKS, [workerId, cause], limit);
}

/*
 * What the database gives a worker that the worker does not hold, claimed longer than the grace ago (so it
 * had time to arrive): a claim whose send never happened (the coordinator died between the two), a send
 * lost on a broken stream, or an earlier hand-back that failed. $1 worker id, $2/$3 the (task id, attempt)
 * pairs the worker holds, $4 grace ms; bounded like above.
 */
const HAND_BACK_UNHELD = `
  UPDATE tasks t
  SET ${handBackSet("'its worker no longer held it'")}
  WHERE t.id = ANY(ARRAY(
    SELECT id FROM tasks
    WHERE worker_id = $1 AND status IN ('dispatched', 'running')
      AND picked_at < now() - make_interval(secs => $4::int / 1000.0)
      AND (id, attempt) NOT IN (SELECT * FROM unnest($2::uuid[], $3::int[]))
    LIMIT $5 FOR UPDATE SKIP LOCKED))
  RETURNING t.id, t.worker_id, t.status = 'failed' AS failed`;

export function handBackUnheld(
  pool: Queryable, workerId: number, held: readonly { task_id: string; attempt: number }[], graceMs: number, limit = 1000,
): Promise<HandedBack[]> {
  return handBackInBatches(pool, HAND_BACK_UNHELD, [workerId, held.map((t) => t.task_id), held.map((t) => t.attempt), Math.ceil(graceMs)], limit);
}

/*
 * Leases that ran out: their worker stopped renewing them (it is gone, or lost track of them) even if no
 * coordinator evicted it, such as after a coordinator restart that emptied its registry. Bounded like above.
 */
const HAND_BACK_EXPIRED_LEASES = `
  UPDATE tasks t
  SET ${handBackSet("'lease expired'")}
  WHERE t.id = ANY(ARRAY(
    SELECT id FROM tasks
    WHERE status IN ('dispatched', 'running') AND lease_expires_at < now()
    LIMIT $1 FOR UPDATE SKIP LOCKED))
  RETURNING t.id, t.worker_id, t.status = 'failed' AS failed`;

export function handBackExpiredLeases(pool: Pool, limit = 1000): Promise<HandedBack[]> {
  return handBackInBatches(pool, HAND_BACK_EXPIRED_LEASES, [], limit);
}
