import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';

/*
 * Everything the bench reports is read from the database, the system's record of truth, not from what the
 * services say about themselves. Each statement carries the bench marker so the idle phase can leave the
 * bench's own queries out of its count. started_at is the worker's clock in whole milliseconds (at_ms), so
 * latencies have a 1 ms resolution.
 */
const MARK = '/* taskmaster-bench */';

export interface Percentiles {
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

export interface Correctness {
  /** Tasks not succeeded, or missing. */
  lost: number;
  /** Tasks with more than one 'completed' event. */
  duplicated: number;
  /** Tasks started before their scheduled_at. */
  early: number;
  /** Succeeded tasks whose events are not exactly one 'started' and one 'completed' (the log stream's view). */
  eventMismatches: number;
  /** Tasks that needed more than one attempt (a redelivery, not an error for at-least-once delivery). */
  redelivered: number;
}

/*
 * Whether any task is pending, dispatched or running. Each subquery reads the first entry of a partial index
 * (tasks_pending_due_idx, tasks_lease_idx) through its ORDER BY: a count(*) of the active tasks read the
 * whole backlog, 60 ms per poll at 100k pending, and the bench's own polling became most of the database's
 * CPU; EXISTS drops the ORDER BY and was planned as a sequential scan (18 ms).
 */
const ANY_ACTIVE = `${MARK}
  SELECT (SELECT id FROM tasks WHERE status = 'pending' ORDER BY scheduled_at, id LIMIT 1) IS NOT NULL
      OR (SELECT id FROM tasks WHERE status IN ('dispatched', 'running') ORDER BY lease_expires_at LIMIT 1) IS NOT NULL
      AS active`;

/** Waits until no task is pending, dispatched or running; false if `timeoutMs` passed first. */
export async function waitUntilIdle(db: pg.Pool, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { rows } = await db.query<{ active: boolean }>(ANY_ACTIVE);
    if (!rows[0].active) return true;
    if (Date.now() > deadline) return false;
    await sleep(200);
  }
}

/** When the last of `ids` was recorded finished (the database clock, ms since the epoch). */
export async function lastRecordedAtMs(db: pg.Pool, ids: readonly string[]): Promise<number> {
  const { rows } = await db.query<{ ms: number }>(
    `${MARK} SELECT (extract(epoch FROM max(updated_at)) * 1000)::float8 AS ms FROM tasks WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return rows[0].ms;
}

/**
 * Percentiles of `started_at - <from>` in ms over `ids`: from = 'due' is the schedule-to-start latency
 * (from scheduled_at, or creation when that is later); from = 'scheduled' is the lateness after scheduled_at.
 */
export async function startDelays(db: pg.Pool, ids: readonly string[], from: 'due' | 'scheduled'): Promise<Percentiles> {
  const origin = from === 'due' ? 'greatest(scheduled_at, created_at)' : 'scheduled_at';
  const { rows } = await db.query<{ p: number[]; max: number }>(
    `${MARK} SELECT percentile_cont(ARRAY[0.5, 0.95, 0.99]) WITHIN GROUP (ORDER BY ms) AS p, max(ms) AS max
     FROM (SELECT extract(epoch FROM started_at - ${origin}) * 1000 AS ms FROM tasks WHERE id = ANY($1::uuid[])) d`,
    [ids],
  );
  const [p50, p95, p99] = (rows[0].p ?? [NaN, NaN, NaN]).map(round);
  return { p50, p95, p99, max: round(Number(rows[0].max)) };
}

/**
 * The two legs of schedule-to-start, p50 and p99 in ms: due to claimed (the insert's commit, the NOTIFY and
 * the dispatcher's wake-up) and claimed to started (the claim's statement and commit, the send, the start).
 * picked_at is the claim's transaction start.
 */
export async function startLegs(db: pg.Pool, ids: readonly string[]): Promise<{ dueToClaim: number[]; claimToStart: number[] }> {
  const { rows: [legs] } = await db.query<{ due_to_claim: number[]; claim_to_start: number[] }>(
    `${MARK} SELECT
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM picked_at - greatest(scheduled_at, created_at)) * 1000) AS due_to_claim,
       percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY extract(epoch FROM started_at - picked_at) * 1000) AS claim_to_start
     FROM tasks WHERE id = ANY($1::uuid[])`,
    [ids],
  );
  return { dueToClaim: legs.due_to_claim.map(round), claimToStart: legs.claim_to_start.map(round) };
}

export async function checkCorrectness(db: pg.Pool, ids: readonly string[]): Promise<Correctness> {
  const { rows: [tasks] } = await db.query<{ lost: number; early: number; redelivered: number }>(
    `${MARK} SELECT count(*) FILTER (WHERE t.status IS DISTINCT FROM 'succeeded')::int AS lost,
            count(*) FILTER (WHERE t.started_at < t.scheduled_at)::int AS early,
            count(*) FILTER (WHERE t.attempt > 1)::int AS redelivered
     FROM unnest($1::uuid[]) AS i(id) LEFT JOIN tasks t ON t.id = i.id`,
    [ids],
  );
  const { rows: [events] } = await db.query<{ duplicated: number; mismatches: number }>(
    `${MARK} SELECT count(*) FILTER (WHERE completed > 1)::int AS duplicated,
            count(*) FILTER (WHERE started <> 1 OR completed <> 1)::int AS mismatches
     FROM (SELECT count(*) FILTER (WHERE e.type = 'started') AS started,
                  count(*) FILTER (WHERE e.type = 'completed') AS completed
           FROM unnest($1::uuid[]) AS i(id) LEFT JOIN events e ON e.task_id = i.id
           GROUP BY i.id) per_task`,
    [ids],
  );
  return { lost: tasks.lost, early: tasks.early, redelivered: tasks.redelivered, duplicated: events.duplicated, eventMismatches: events.mismatches };
}

/** Statements run by the services since the last reset (pg_stat_statements), the bench's own left out. */
export async function countStatements(db: pg.Pool): Promise<number> {
  const { rows } = await db.query<{ calls: number }>(
    `${MARK} SELECT coalesce(sum(calls), 0)::int AS calls FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
       AND toplevel AND query NOT LIKE '%taskmaster-bench%'`,
  );
  return rows[0].calls;
}

export async function resetStatements(db: pg.Pool): Promise<void> {
  await db.query(`${MARK} SELECT pg_stat_statements_reset()`);
}

export interface StatementCost {
  calls: number;
  totalMs: number;
  meanMs: number;
  rows: number;
  query: string;
}

/** The statements that took the most time since the last reset, nested ones (trigger bodies) included. */
export async function topStatements(db: pg.Pool, limit = 15): Promise<StatementCost[]> {
  const { rows } = await db.query<StatementCost>(
    `${MARK} SELECT calls::int, round(total_exec_time::numeric, 1)::float8 AS "totalMs",
            round(mean_exec_time::numeric, 3)::float8 AS "meanMs", rows::int,
            left(regexp_replace(query, '\\s+', ' ', 'g'), 160) AS query
     FROM pg_stat_statements
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) AND query NOT LIKE '%taskmaster-bench%'
     ORDER BY total_exec_time DESC LIMIT $1`,
    [limit],
  );
  return rows;
}

function round(value: number): number {
  return Math.round(value * 10) / 10;
}
