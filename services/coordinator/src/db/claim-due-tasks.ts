import { ASYNC_COMMIT } from '../../../common/src/db/durability';
import type { Pool } from '../../../common/src/db/pool';
import type { Capabilities } from '../registry';

export interface ClaimedTask {
  id: string;
  /** NULL for a named task. */
  command: string | null;
  /** NULL for a command task. */
  name: string | null;
  /** The payload as JSON text, or NULL. */
  payload: string | null;
  queue: string;
  attempt: number;
  worker_id: number;
  /** The later of scheduled_at and created_at, in ms: when the task became due. */
  due_at_ms: number;
  /**
   * For a task claimed ahead: the time on this process's monotonic clock (performance.now()) before which
   * it must not start; 0 for a task due already.
   */
  hold_until: number;
}

/*
 * Claims due tasks and assigns each to a worker slot, in one statement.
 * $1: the slot plan, one worker id per free slot in round-robin order; at most that many tasks are claimed
 *     and the n-th task goes to the n-th slot. $2: the lease, in milliseconds. $3: the task names the plan's
 *     workers run (they share them: the dispatcher makes one plan per kind of worker). Whether they also run
 *     command tasks, or only those without a payload (original-contract workers), picks the filter's text,
 *     one prepared statement per kind (TAKES): a CASE over parameters in one text doubled the claim's
 *     time in the benchmark. A task no worker runs is skipped by the scan and stays pending (the API says
 *     so); with many such tasks due, each claim walks past them. The lookahead (tasks due
 *     within it are claimed too) is written into the text, one prepared statement per value, not passed as
 *     a parameter: a parameter hides its value from the generic plan, which then walked idx_tasks_scheduled_at
 *     through the finished tasks (26 ms for 500 tasks at a 100k backlog behind 200k finished ones) instead
 *     of reading tasks_pending_due_idx (1 ms).
 * Locks: FOR UPDATE SKIP LOCKED on the picked rows, so concurrent coordinators claim disjoint tasks and never
 * wait on each other. The statement commits on its own (autocommit) before any gRPC call is made: row locks
 * are never held across the network (DESIGN.md §1). It commits without waiting for the disk (ASYNC_COMMIT):
 * a claim lost in a crash is a lease that expired, and durability.ts says why that is safe.
 * Every claim increments `attempt`; the worker echoes it on every report (fencing). A task is never started
 * early: with no lookahead `scheduled_at <= now()`; with one, see claimDueTasks.
 * The picked ids go through ARRAY(...) and unnest WITH ORDINALITY, and the n-th picked task takes the n-th
 * slot of the plan, so the update finds each row by primary key: the planner cannot know how many ids an
 * array built at run time holds and plans a nested loop of primary-key lookups. Joining the CTE itself was
 * planned as a hash join over a sequential scan of the whole table (measured: 2,000 rows read to claim 500;
 * it grows with the history), like `IN (SELECT ...)` in DESIGN.md §8, and so was unnesting the plan beside
 * the ids, whose length the planner does know: a 100-slot plan at 23k tasks made every claim a 5.5 ms
 * sequential scan. The partial index tasks_pending_due_idx serves the inner select; docs/performance.md has
 * the plans at a 100k backlog.
 */
const TAKES = {
  named: 'name = ANY($3::text[])',
  commands: '(name IS NULL OR name = ANY($3::text[]))',
  originalCommands: 'name IS NULL AND payload IS NULL',
} as const;

function takesOf(capabilities: Capabilities): keyof typeof TAKES {
  if (capabilities.commandsWithoutPayload) return 'originalCommands';
  return capabilities.commandTasks ? 'commands' : 'named';
}

const claimDueTasksSql = (lookaheadMs: number, takes: keyof typeof TAKES) => `
  WITH ${ASYNC_COMMIT},
  picked AS (
    SELECT id FROM tasks
    WHERE status = 'pending' AND scheduled_at <= now() + interval '${Math.trunc(lookaheadMs)} milliseconds'
      AND ${TAKES[takes]}
    ORDER BY scheduled_at, id
    LIMIT cardinality($1::bigint[])
    FOR UPDATE SKIP LOCKED
  )
  UPDATE tasks t
  SET status = 'dispatched',
      attempt = t.attempt + 1,
      worker_id = ($1::bigint[])[slot.n],
      picked_at = now(),
      lease_expires_at = now() + make_interval(secs => $2::int / 1000.0),
      updated_at = now()
  FROM async_commit, unnest(ARRAY(SELECT id FROM picked)) WITH ORDINALITY AS slot(id, n)
  WHERE t.id = slot.id
  RETURNING t.id, t.command, t.name, t.payload::text AS payload, t.queue, t.attempt, t.worker_id,
            (extract(epoch FROM greatest(t.scheduled_at, t.created_at)) * 1000)::float8 AS due_at_ms,
            (extract(epoch FROM t.scheduled_at) * 1000)::float8 AS scheduled_ms,
            t.scheduled_at > clock_timestamp() AS ahead`;

/* The database's clock now, in Unix ms. */
const DATABASE_NOW_MS = `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`;

/**
 * Claims due tasks (above) and, with a lookahead, tasks due within it. A task claimed ahead gets hold_until:
 * scheduled_at minus the database's clock, read after the claim committed, added to this process's
 * monotonic clock when that reading arrived. The reading was taken before it arrived, so hold_until is at
 * or after the true due time, whatever the clocks of the machines say; the dispatcher turns it into the
 * worker's start_after_ms when it sends. Computed inside the claim statement, the wait also counted the
 * statement's remaining rows, its trigger and its commit: 16-100 ms late for 1,000 tasks due at one instant.
 */
export async function claimDueTasks(
  pool: Pool, slotPlan: readonly number[], takes: Capabilities, leaseMs: number, lookaheadMs = 0,
): Promise<ClaimedTask[]> {
  if (slotPlan.length === 0) return [];
  const kind = takesOf(takes);
  const { rows } = await pool.query<ClaimedTask & { scheduled_ms: number; ahead: boolean }>({
    name: `claim-due-tasks-${Math.trunc(lookaheadMs)}-${kind}`,
    text: claimDueTasksSql(lookaheadMs, kind),
    // Original-contract workers run no named task: their filter has no $3.
    values: kind === 'originalCommands' ? [slotPlan, leaseMs] : [slotPlan, leaseMs, takes.names],
  });
  // Each claimed task is due within the lookahead of the claim's start, earlier than now: holding it for the
  // whole lookahead is safe too, and is what a task gets if the clock cannot be read. Throwing instead would
  // leave the claimed tasks unsent until their leases ran out.
  const wholeLookahead = performance.now() + lookaheadMs;
  let holdUntil = (_scheduledMs: number) => wholeLookahead;
  if (rows.some((row) => row.ahead)) {
    try {
      const { rows: [now] } = await pool.query<{ now_ms: number }>({ name: 'database-now-ms', text: DATABASE_NOW_MS });
      const offset = performance.now() - now.now_ms;
      holdUntil = (scheduledMs) => Math.min(scheduledMs + offset, wholeLookahead);
    } catch {
      // Held for the whole lookahead, above.
    }
  }
  return rows.map(({ id, command, name, payload, queue, attempt, worker_id, due_at_ms, scheduled_ms, ahead }) => ({
    id, command, name, payload, queue, attempt, worker_id, due_at_ms,
    hold_until: ahead ? holdUntil(scheduled_ms) : 0,
  }));
}

/*
 * Milliseconds until the earliest pending task is due (<= 0: due now), or null when nothing is pending.
 * Measured against the database's clock, which is the one the claim query compares with, so a coordinator
 * whose clock runs ahead cannot spin on a task the database does not yet consider due.
 * ORDER BY scheduled_at, id is the key of the partial index tasks_pending_due_idx, so this reads its first
 * entry. `min(scheduled_at)` was planned as a walk of idx_tasks_scheduled_at skipping every finished task
 * due earlier (measured: 90 ms with 200k finished and 100k pending tasks, after every dispatch pass).
 */
const NEXT_DUE_IN_MS = `
  SELECT (extract(epoch FROM (scheduled_at - now())) * 1000)::float8 AS due_in_ms
  FROM tasks WHERE status = 'pending'
  ORDER BY scheduled_at, id LIMIT 1`;

export async function nextDueInMs(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ due_in_ms: number }>({ name: 'next-due-in-ms', text: NEXT_DUE_IN_MS });
  return rows.length > 0 ? rows[0].due_in_ms : null;
}
