import { CLAIM_KEY, LOWEST_PRIORITY_SHIFT } from '../../../common/src/db/claim-key';
import { ASYNC_COMMIT } from '../../../common/src/db/durability';
import { numberArray } from '../../../common/src/db/array-literal';
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
  /** The task's own timeout; NULL: its worker's default applies. */
  timeout_seconds: number | null;
  /** The later of scheduled_at and created_at, in ms: when the task became due. */
  due_at_ms: number;
  /**
   * For a task claimed ahead: the time on this process's monotonic clock (performance.now()) before which
   * it must not start; 0 for a task due already.
   */
  hold_until: number;
}

/*
 * Claims due tasks and assigns each to a worker slot, in one statement (docs/performance.md has the plans).
 * $1: the slot plan, one worker id per free slot, round-robin; the n-th picked task takes the n-th slot.
 * $2: the lease in ms. $3: the task names the plan's workers run (one plan per kind of worker). $4: the queues
 * they take, for workers limited to some (a worker pool's WORKER_QUEUES).
 * Locks: FOR UPDATE SKIP LOCKED, so concurrent coordinators claim disjoint tasks, and the statement commits
 * on its own before any gRPC call: no row lock is held across the network (DESIGN.md §1). It commits without
 * waiting for the disk: a claim lost in a crash is a lease that expired (durability.ts).
 * Every claim increments `attempt`, the fence the worker echoes in its reports.
 * Order: by claim key, the due time moved p minutes earlier for priority p (migration 0012). Each of the three
 * pending indexes (priority 0, above, below) gives its first due tasks in key order, and the merge keeps the
 * first of them all; a lower-priority branch reads its index up to 1000 minutes ahead, the widest shift, and
 * skips what is not due. With no priorities in use the two extra branches read empty indexes, and the merge is
 * skipped (its EXISTS filters are one-time filters): the priority-0 tasks are already in order.
 * The lookahead and the kind of worker (TAKES) are written into the text, one prepared statement each,
 * because a parameter in their place let the generic plan pick a worse index or a sort of the whole backlog.
 * The picked ids go through ARRAY(...) and unnest WITH ORDINALITY so that the update is planned as a nested
 * loop of primary-key lookups: the planner cannot know the array's length; joining the CTE itself was planned
 * as a scan of the whole table.
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


// A worker pool limited to some queues (WORKER_QUEUES): $4, its own statement, so that unlimited workers keep
// the plans above unchanged.
const claimDueTasksSql = (lookaheadMs: number, takes: keyof typeof TAKES, gated: boolean, queues = false) => {
  const horizon = `now() + interval '${Math.trunc(lookaheadMs)} milliseconds'`;
  const horizonKey = `((${horizon}) AT TIME ZONE 'UTC')`;
  const due = `status = 'pending' AND scheduled_at <= ${horizon} AND ${TAKES[takes]}${queues ? ' AND queue = ANY($4::text[])' : ''}`;
  const prioritized = (sign: '>' | '<', keyBound: string) => `
    SELECT id, ${CLAIM_KEY} AS claim_key FROM tasks
    WHERE ${due} AND NOT gated AND priority ${sign} 0 AND ${CLAIM_KEY} <= ${horizonKey} + ${keyBound}
    ORDER BY ${CLAIM_KEY}, id
    LIMIT cardinality($1::bigint[])
    FOR UPDATE SKIP LOCKED`;
  // A controlled queue's first tasks, as many as it has room for; the two indexes of migration 0017 are read
  // with the bounds of the two prioritised branches above.
  const queuedBranch = (sign: '>=' | '<', keyBound: string) => `
    SELECT t.id, t.claim_key, t.queue FROM gate_queues g CROSS JOIN LATERAL (
      SELECT id, ${CLAIM_KEY} AS claim_key, queue FROM tasks
      WHERE ${due} AND gated AND concurrency_key IS NULL AND priority ${sign} 0 AND queue = g.name
        AND ${CLAIM_KEY} <= ${horizonKey} + ${keyBound}
      ORDER BY queue, ${CLAIM_KEY}, id
      LIMIT least(g.room, cardinality($1::bigint[]))
      FOR UPDATE SKIP LOCKED
    ) t`;
  // Original-contract workers run no named task, and every keyed task is named.
  const keyedNames = takes === 'originalCommands' ? 'false' : 'name = ANY($3::text[])';
  // Without gates the statement has no gated branches at all: even empty, they cost each claim their plan's nodes.
  const gates = gated ? `
  gate_queues AS (
    SELECT name, queue_room(queues) AS room FROM queues
    WHERE NOT paused AND queue_room(queues) > 0${queues ? ' AND name = ANY($4::text[])' : ''}
    FOR NO KEY UPDATE SKIP LOCKED
  ),
  gate_keys AS (
    SELECT name, key, max_running - running AS room FROM concurrency_keys
    WHERE running < max_running AND next_due <= ${horizon} AND ${keyedNames}
    ORDER BY next_due
    LIMIT cardinality($1::bigint[])
    FOR NO KEY UPDATE SKIP LOCKED
  ),
  keyed AS (
    SELECT t.id, t.claim_key, t.queue FROM gate_keys g CROSS JOIN LATERAL (
      SELECT id, ${CLAIM_KEY} AS claim_key, queue FROM tasks
      WHERE ${due} AND gated AND concurrency_key IS NOT NULL AND name = g.name AND concurrency_key = g.key
      ORDER BY name, concurrency_key, scheduled_at, id
      LIMIT least(g.room, cardinality($1::bigint[]))
      FOR UPDATE SKIP LOCKED
    ) t
  ),
  -- Gated candidates within their queue's room: a keyed task of a controlled queue needs room in both gates,
  -- one of a queue without controls only its key's.
  gated AS (
    SELECT c.id, c.claim_key FROM (
      SELECT c.*, row_number() OVER (PARTITION BY c.queue ORDER BY c.claim_key, c.id) AS nth
      FROM (${queuedBranch('>=', "interval '0 minutes'")} UNION ALL ${queuedBranch('<', LOWEST_PRIORITY_SHIFT)} UNION ALL SELECT * FROM keyed) c
    ) c
    LEFT JOIN queues q ON q.name = c.queue
    LEFT JOIN gate_queues g ON g.name = c.queue
    WHERE q.name IS NULL OR c.nth <= g.room
  ),
`
    : `
  gated AS (SELECT NULL::uuid AS id, NULL::timestamp AS claim_key WHERE false),`;
  return `
  WITH ${ASYNC_COMMIT},
  plain AS (
    SELECT id, scheduled_at FROM tasks
    WHERE ${due} AND NOT gated AND priority = 0
    ORDER BY scheduled_at, id
    LIMIT cardinality($1::bigint[])
    FOR UPDATE SKIP LOCKED
  ),
  higher AS (${prioritized('>', "interval '0 minutes'")}),
  lower AS (${prioritized('<', LOWEST_PRIORITY_SHIFT)}),${gates}
  picked AS (
    SELECT id FROM plain
    WHERE NOT EXISTS (SELECT 1 FROM higher) AND NOT EXISTS (SELECT 1 FROM lower) AND NOT EXISTS (SELECT 1 FROM gated)
    UNION ALL
    SELECT id FROM (
      SELECT * FROM (
        SELECT id, scheduled_at AT TIME ZONE 'UTC' AS claim_key FROM plain
        UNION ALL SELECT * FROM higher UNION ALL SELECT * FROM lower UNION ALL SELECT * FROM gated
      ) candidates
      ORDER BY claim_key, id
      LIMIT cardinality($1::bigint[])
    ) merged
    WHERE EXISTS (SELECT 1 FROM higher) OR EXISTS (SELECT 1 FROM lower) OR EXISTS (SELECT 1 FROM gated)
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
  RETURNING t.id, t.command, t.name, t.payload::text AS payload, t.queue, t.attempt, t.worker_id, t.timeout_seconds,
            (extract(epoch FROM greatest(t.scheduled_at, t.created_at)) * 1000)::float8 AS due_at_ms,
            (extract(epoch FROM t.scheduled_at) * 1000)::float8 AS scheduled_ms,
            t.scheduled_at > clock_timestamp() AS ahead`;
};

/* The database's clock now, in Unix ms. */
const DATABASE_NOW_MS = `SELECT (extract(epoch FROM clock_timestamp()) * 1000)::float8 AS now_ms`;

/**
 * Claims due tasks (above) and, with a lookahead, tasks due within it. `gates` false leaves the gated
 * branches out, for when no queue has controls and no task type a limit (gatesInUse). A task claimed ahead gets hold_until:
 * scheduled_at minus the database's clock read after the claim committed, on this process's monotonic
 * clock, so it is never before the true due time whatever the machines' clocks say. Computed inside the
 * statement, the wait would also count the statement's remaining rows, trigger and commit.
 */
export async function claimDueTasks(
  pool: Pool, slotPlan: readonly number[], takes: Capabilities, leaseMs: number, lookaheadMs = 0, gates = true,
): Promise<ClaimedTask[]> {
  if (slotPlan.length === 0) return [];
  const kind = takesOf(takes);
  // Original-contract workers declare no queues (nor names): only ours can be limited to some.
  const queues = kind !== 'originalCommands' && (takes.queues?.length ?? 0) > 0;
  const { rows } = await pool.query<ClaimedTask & { scheduled_ms: number; ahead: boolean }>({
    name: `claim-due-tasks-${Math.trunc(lookaheadMs)}-${kind}${gates ? '-gated' : ''}${queues ? '-queues' : ''}`,
    text: claimDueTasksSql(lookaheadMs, kind, gates, queues),
    // Original-contract workers run no named task: their filter has no $3.
    values: kind === 'originalCommands' ? [numberArray(slotPlan), leaseMs]
      : queues ? [numberArray(slotPlan), leaseMs, takes.names, takes.queues] : [numberArray(slotPlan), leaseMs, takes.names],
  });
  // Holding a task for the whole lookahead is safe too: it is what a task gets if the clock cannot be read,
  // since throwing would leave the claimed tasks unsent until their leases ran out.
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
  return rows.map(({ id, command, name, payload, queue, attempt, worker_id, timeout_seconds, due_at_ms, scheduled_ms, ahead }) => ({
    id, command, name, payload, queue, attempt, worker_id, timeout_seconds, due_at_ms,
    hold_until: ahead ? holdUntil(scheduled_ms) : 0,
  }));
}

/** Whether any gate exists (a controlled queue, a concurrency limit): the claim needs its gated branches then. */
const GATES_IN_USE = `SELECT EXISTS (SELECT 1 FROM queues) OR EXISTS (SELECT 1 FROM concurrency_limits) AS in_use`;

export async function gatesInUse(pool: Pool): Promise<boolean> {
  return (await pool.query<{ in_use: boolean }>({ name: 'gates-in-use', text: GATES_IN_USE })).rows[0].in_use;
}

/*
 * Milliseconds until the earliest pending task is due (<= 0: due now), or null when nothing is pending, on
 * the database's clock, the one the claim compares with, so a coordinator whose clock runs ahead cannot spin.
 * ORDER BY scheduled_at, id reads the first entry of tasks_pending_due_idx; `min(scheduled_at)` was planned as
 * a walk of idx_tasks_scheduled_at through every finished task. Gated tasks count when their gate could let
 * one start: a key with a free slot (its next due time), a controlled queue not paused and not full (its first
 * task in claim order, or its next tokens if later). A gate that is full is reopened by a task leaving it,
 * whose trigger wakes the coordinators.
 */
const nextDueInMsSql = (gates: boolean) => `
  SELECT (extract(epoch FROM (min(due_at) - now())) * 1000)::float8 AS due_in_ms FROM (
    (SELECT scheduled_at AS due_at FROM tasks WHERE status = 'pending' AND NOT gated ORDER BY scheduled_at, id LIMIT 1)${gates ? `
    UNION ALL
    (SELECT next_due FROM concurrency_keys WHERE running < max_running AND next_due < 'infinity' ORDER BY next_due LIMIT 1)
    UNION ALL
    -- A rate-limited queue is worth a claim once it has a twentieth of a second's tokens (one at least), so a
    -- high rate is claimed in batches rather than a task at a time.
    SELECT greatest(head.due_at, CASE WHEN q.max_per_second IS NOT NULL
      THEN q.refilled_at + make_interval(secs => (greatest(1, q.max_per_second / 20.0) - q.tokens) / q.max_per_second) END)
    FROM queues q CROSS JOIN LATERAL (SELECT least(
      (SELECT scheduled_at FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority >= 0
         AND queue = q.name ORDER BY queue, ${CLAIM_KEY}, id LIMIT 1),
      (SELECT scheduled_at FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority < 0
         AND queue = q.name ORDER BY queue, ${CLAIM_KEY}, id LIMIT 1)) AS due_at) head
    WHERE NOT q.paused AND (q.max_running IS NULL OR q.running < q.max_running) AND head.due_at IS NOT NULL` : ''}
  ) heads`;

export async function nextDueInMs(pool: Pool, gates = true): Promise<number | null> {
  const { rows } = await pool.query<{ due_in_ms: number | null }>({ name: `next-due-in-ms${gates ? '-gated' : ''}`, text: nextDueInMsSql(gates) });
  return rows[0].due_in_ms;
}
