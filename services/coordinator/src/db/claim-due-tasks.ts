import type { Pool } from '../../../common/src/db/pool';

export interface ClaimedTask {
  id: string;
  command: string;
  attempt: number;
  worker_id: number;
  /** The later of scheduled_at and created_at, in ms: when the task became due. */
  due_at_ms: number;
}

/*
 * Claims due tasks and assigns each to a worker slot, in one statement.
 * $1: the slot plan, one worker id per free slot in round-robin order; at most that many tasks are claimed
 *     and the n-th task goes to the n-th slot. $2: the lease, in milliseconds.
 * Locks: FOR UPDATE SKIP LOCKED on the picked rows, so concurrent coordinators claim disjoint tasks and never
 * wait on each other. The statement commits on its own (autocommit) before any gRPC call is made: row locks
 * are never held across the network (DESIGN.md §1).
 * Every claim increments `attempt`; the worker echoes it on every report (fencing). `scheduled_at <= now()`
 * makes it impossible to start a task early.
 * `id = ANY(ARRAY(...))` rather than `IN (SELECT ...)`: the latter can be planned as a scan of the whole table
 * (DESIGN.md §8); the partial index tasks_pending_due_idx serves the inner select.
 */
const CLAIM_DUE_TASKS = `
  WITH picked AS (
    SELECT id, row_number() OVER () AS slot FROM (
      SELECT id FROM tasks
      WHERE status = 'pending' AND scheduled_at <= now()
      ORDER BY scheduled_at, id
      LIMIT cardinality($1::bigint[])
      FOR UPDATE SKIP LOCKED
    ) due
  ), plan AS (
    SELECT worker_id, slot FROM unnest($1::bigint[]) WITH ORDINALITY AS p(worker_id, slot)
  )
  UPDATE tasks t
  SET status = 'dispatched',
      attempt = t.attempt + 1,
      worker_id = plan.worker_id,
      picked_at = now(),
      lease_expires_at = now() + make_interval(secs => $2::int / 1000.0),
      updated_at = now()
  FROM picked JOIN plan USING (slot)
  WHERE t.id = picked.id
  RETURNING t.id, t.command, t.attempt, t.worker_id,
            (extract(epoch FROM greatest(t.scheduled_at, t.created_at)) * 1000)::float8 AS due_at_ms`;

export async function claimDueTasks(pool: Pool, slotPlan: readonly number[], leaseMs: number): Promise<ClaimedTask[]> {
  if (slotPlan.length === 0) return [];
  const { rows } = await pool.query<ClaimedTask>({ name: 'claim-due-tasks', text: CLAIM_DUE_TASKS, values: [slotPlan, leaseMs] });
  return rows;
}

/*
 * Milliseconds until the earliest pending task is due (<= 0: due now), or null when nothing is pending.
 * Measured against the database's clock, which is the one the claim query compares with, so a coordinator
 * whose clock runs ahead cannot spin on a task the database does not yet consider due.
 */
const NEXT_DUE_IN_MS = `
  SELECT (extract(epoch FROM (min(scheduled_at) - now())) * 1000)::float8 AS due_in_ms
  FROM tasks WHERE status = 'pending'`;

export async function nextDueInMs(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ due_in_ms: number | null }>({ name: 'next-due-in-ms', text: NEXT_DUE_IN_MS });
  return rows[0].due_in_ms;
}
