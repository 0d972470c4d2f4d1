import { CLAIM_KEY, LOWEST_PRIORITY_SHIFT } from './claim-key';
import type { Pool } from './pool';

export interface QueueMeasure {
  /** Pending tasks that are due now (waiting for a free slot), counted up to the cap. */
  depth: number;
  /** Seconds the task at the head of the queue (the next one claimed) has been due; 0 when none is. */
  oldest_due_age_seconds: number;
  /** Tasks dispatched over a minute ago and not reported started: a worker that took them and hangs. */
  stuck_dispatched: number;
  /** Pending named tasks per name (the first 1,000 names), for "no live worker runs it" warnings. */
  pending_names: Array<{ name: string; pending: number }>;
}

/**
 * Beyond this many due tasks the depth reads as the cap: counting millions of rows every few seconds would be
 * a load of its own. The autoscaler passes a smaller cap: past what its maximum can serve, more changes nothing.
 */
const QUEUE_DEPTH_CAP = 100_000;

/*
 * Pending named tasks per name (the first 1,000 names): which names are waiting, for "no live worker runs it"
 * warnings. Reads tasks_pending_named_idx, which command tasks never enter.
 */
const PENDING_NAMES = `
  SELECT name, count(*)::int AS pending FROM tasks
  WHERE status = 'pending' AND name IS NOT NULL
  GROUP BY name ORDER BY name LIMIT 1000`;

export async function pendingNames(pool: Pool): Promise<Array<{ name: string; pending: number }>> {
  const { rows } = await pool.query<{ name: string; pending: number }>({ name: 'pending-names', text: PENDING_NAMES });
  return rows;
}

/*
 * Gated tasks (migration 0017) that could start now: in each controlled queue not paused, its due tasks up to
 * its room (read like the claim reads them, bounded by the claim key), and for each key with a free slot, its
 * free slots. A throttled or paused queue's backlog is not depth: more workers would not run it sooner.
 */
const GATED_DEPTH = `
  coalesce((
    SELECT sum(n) FROM queues q CROSS JOIN LATERAL (
      SELECT count(*) AS n FROM (
        (SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority >= 0 AND queue = q.name
           AND ${CLAIM_KEY} <= now() AT TIME ZONE 'UTC' AND scheduled_at <= now() LIMIT least(queue_room(q), $1))
        UNION ALL
        (SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND priority < 0 AND queue = q.name
           AND ${CLAIM_KEY} <= (now() AT TIME ZONE 'UTC') + ${LOWEST_PRIORITY_SHIFT} AND scheduled_at <= now() LIMIT least(queue_room(q), $1))
      ) due LIMIT least(queue_room(q), $1)
    ) c
    WHERE NOT q.paused
  ), 0)
  + coalesce((
    SELECT sum(max_running - running) FROM (
      SELECT max_running, running FROM concurrency_keys WHERE running < max_running AND next_due <= now() LIMIT $1
    ) k
  ), 0)`;

/*
 * The backlog, for the coordinator's queue gauges and the scheduler's autoscaler: how many pending tasks are
 * due (at most $1, plus the gated ones that could start now, above), and how long the head of the ungated
 * queue (the first in claim order, scheduled_at then id) has been due, counted from the later of its
 * scheduled_at and its creation, as schedule-to-start latency is. No locks. Both subqueries read the partial
 * index tasks_pending_due_idx (ungated pending rows in due order), so the finished history costs nothing; the
 * count visits at most $1 entries (~20 ms per 20,000 here) and the head one entry and one row. The stuck
 * count reads the dispatched rows of tasks_status_scheduled_idx (at most every worker's slots). PENDING_NAMES
 * rides along, so sampling stays one statement.
 */
const MEASURE_QUEUE = `
  SELECT
    ((SELECT count(*) FROM (
      SELECT 1 FROM tasks WHERE status = 'pending' AND NOT gated AND scheduled_at <= now() LIMIT $1
    ) due) + ${GATED_DEPTH})::int AS depth,
    coalesce((
      SELECT greatest(0, extract(epoch FROM now() - greatest(scheduled_at, created_at)))::float8
      FROM tasks WHERE status = 'pending' AND NOT gated AND scheduled_at <= now()
      ORDER BY scheduled_at, id LIMIT 1
    ), 0) AS oldest_due_age_seconds,
    (SELECT count(*)::int FROM tasks WHERE status = 'dispatched' AND picked_at < now() - interval '1 minute') AS stuck_dispatched,
    (SELECT coalesce(json_agg(n ORDER BY n.name), '[]') FROM (${PENDING_NAMES}) n) AS pending_names`;

export async function measureQueue(pool: Pool, cap = QUEUE_DEPTH_CAP): Promise<QueueMeasure> {
  const { rows } = await pool.query<QueueMeasure>({ name: 'measure-queue', text: MEASURE_QUEUE, values: [cap] });
  return rows[0];
}


/** Which tasks a worker pool takes: its queues and task names; an empty list is no limit. */
export interface PoolScope {
  queues: readonly string[];
  names: readonly string[];
}

/*
 * MEASURE_QUEUE's depth and head age for one worker pool, for the autoscaler: $2 its queues, $3 its task names
 * (empty arrays: no limit). Gated tasks count as in GATED_DEPTH, within the pool's controlled queues, and a
 * concurrency key's free slots only when the key has a pending task the pool takes. No locks. It reads the same
 * partial indexes; the pool's filter is applied to the entries walked, so a large backlog of other pools is read
 * past (bounded by the due backlog, not the history). Its own statement: the coordinator's gauge keeps its plan.
 */
const POOL_FILTER = `(cardinality($2::text[]) = 0 OR queue = ANY($2::text[])) AND (cardinality($3::text[]) = 0 OR name = ANY($3::text[]))`;
const MEASURE_POOL_QUEUE = `
  SELECT
    ((SELECT count(*) FROM (
      SELECT 1 FROM tasks WHERE status = 'pending' AND NOT gated AND scheduled_at <= now() AND ${POOL_FILTER} LIMIT $1
    ) due)
    + coalesce((
      SELECT sum(n) FROM queues q CROSS JOIN LATERAL (
        SELECT count(*) AS n FROM (
          SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL AND queue = q.name
            AND scheduled_at <= now() AND ${POOL_FILTER} LIMIT least(queue_room(q), $1)
        ) due
      ) c
      WHERE NOT q.paused AND (cardinality($2::text[]) = 0 OR q.name = ANY($2::text[]))
    ), 0)
    + coalesce((
      SELECT sum(k.max_running - k.running) FROM (
        SELECT name, key, max_running, running FROM concurrency_keys
        WHERE running < max_running AND next_due <= now() AND (cardinality($3::text[]) = 0 OR name = ANY($3::text[])) LIMIT $1
      ) k
      WHERE EXISTS (SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND name = k.name AND concurrency_key = k.key AND ${POOL_FILTER})
    ), 0))::int AS depth,
    coalesce((
      SELECT greatest(0, extract(epoch FROM now() - greatest(scheduled_at, created_at)))::float8
      FROM tasks WHERE status = 'pending' AND NOT gated AND scheduled_at <= now() AND ${POOL_FILTER}
      ORDER BY scheduled_at, id LIMIT 1
    ), 0) AS oldest_due_age_seconds`;

export async function measurePoolQueue(pool: Pool, cap: number, scope: PoolScope): Promise<Pick<QueueMeasure, 'depth' | 'oldest_due_age_seconds'>> {
  const { rows } = await pool.query<Pick<QueueMeasure, 'depth' | 'oldest_due_age_seconds'>>({
    name: 'measure-pool-queue', text: MEASURE_POOL_QUEUE, values: [cap, scope.queues, scope.names],
  });
  return rows[0];
}
