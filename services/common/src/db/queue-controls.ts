import type { Pool } from './pool';

/*
 * Queue controls and concurrency limits (migration 0017, docs/queues.md). The SQL functions of the migration
 * do the work, so that gating a queue's backlog or re-keying a task type's tasks is one transaction whichever
 * service asks: the scheduler's API, or the coordinator for limits that workers declare.
 */

/** What to change on a queue: undefined leaves a control as it is, null removes a limit. */
export interface QueueControls {
  paused?: boolean;
  maxRunning?: number | null;
  maxPerSecond?: number | null;
}

/** A controlled queue as the API shows it. */
export interface QueueRow {
  name: string;
  paused: boolean;
  max_running: number | null;
  max_per_second: number | null;
  /** Its tasks in flight (dispatched or running). */
  running: number;
  /** Its pending tasks without a concurrency key, counted up to 100,000. */
  pending: number;
  /** Tokens of the rate limit now (whole starts allowed right away); null without a rate limit. */
  tokens: number | null;
  created_at: Date;
  updated_at: Date;
}

/** The limit (0) that set_queue_controls() reads as "remove"; NULL there leaves the limit as it is. */
const limitArgument = (limit: number | null | undefined) => (limit === undefined ? null : limit ?? 0);

/* A queue's pending tasks without a key, from the two indexes of its gated tasks, each count capped. */
const QUEUE_COLUMNS = `
  q.name, q.paused, q.max_running, q.max_per_second, q.running, q.created_at, q.updated_at,
  CASE WHEN q.max_per_second IS NOT NULL THEN floor(queue_tokens(q))::int END AS tokens,
  (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL
     AND priority >= 0 AND queue = q.name LIMIT 100000) up)::int
  + (SELECT count(*) FROM (SELECT 1 FROM tasks WHERE status = 'pending' AND gated AND concurrency_key IS NULL
     AND priority < 0 AND queue = q.name LIMIT 100000) down)::int AS pending`;

/*
 * Controls the queue (gating its backlog the first time, in the function) and applies the changes. The row is
 * read again by a statement of its own: this one's snapshot predates what the function wrote.
 */
const SET_QUEUE_CONTROLS = `SELECT name FROM set_queue_controls($1, $2, $3, $4)`;

export async function setQueueControls(pool: Pool, name: string, controls: QueueControls): Promise<QueueRow> {
  await pool.query({ name: 'set-queue-controls', text: SET_QUEUE_CONTROLS, values: [
    name, controls.paused ?? null, limitArgument(controls.maxRunning), limitArgument(controls.maxPerSecond),
  ] });
  const row = await getQueue(pool, name);
  if (!row) throw new Error(`the controls of queue ${name} were removed as they were set`);
  return row;
}

const LIST_QUEUES = `SELECT ${QUEUE_COLUMNS} FROM queues q ORDER BY q.name`;

export async function listQueues(pool: Pool): Promise<QueueRow[]> {
  return (await pool.query<QueueRow>({ name: 'list-queues', text: LIST_QUEUES })).rows;
}

const GET_QUEUE = `SELECT ${QUEUE_COLUMNS} FROM queues q WHERE q.name = $1`;

export async function getQueue(pool: Pool, name: string): Promise<QueueRow | null> {
  return (await pool.query<QueueRow>({ name: 'get-queue', text: GET_QUEUE, values: [name] })).rows[0] ?? null;
}

/* Removes every control: the queue's tasks go back to the ungated path. */
const RELEASE_QUEUE = `SELECT release_queue($1) AS released`;

export async function releaseQueue(pool: Pool, name: string): Promise<boolean> {
  return (await pool.query<{ released: boolean }>({ name: 'release-queue', text: RELEASE_QUEUE, values: [name] })).rows[0].released;
}

export type LimitSource = 'api' | 'worker';

/** A task type's concurrency limit, with its keys in use. */
export interface ConcurrencyLimitRow {
  name: string;
  key_field: string;
  max_running: number;
  source: LimitSource;
  /** Keys with unfinished tasks (gates). */
  keys: number;
  /** Keys whose tasks in flight reach the limit. */
  keys_at_limit: number;
  /** Tasks of the type in flight under the limit. */
  running: number;
  created_at: Date;
  updated_at: Date;
}

const LIMIT_COLUMNS = `
  l.name, l.key_field, l.max_running, l.source, l.created_at, l.updated_at,
  (SELECT count(*)::int FROM concurrency_keys k WHERE k.name = l.name) AS keys,
  (SELECT count(*)::int FROM concurrency_keys k WHERE k.name = l.name AND k.running >= k.max_running) AS keys_at_limit,
  (SELECT coalesce(sum(k.running), 0)::int FROM concurrency_keys k WHERE k.name = l.name) AS running`;

/* Sets a limit (re-keying the type's unfinished tasks, in the function); returns whether one existed before. */
const SET_CONCURRENCY_LIMIT = `SELECT set_concurrency_limit($1, $2, $3, $4) AS existed`;

export async function setConcurrencyLimit(
  pool: Pool, name: string, limit: { keyField: string; maxRunning: number }, source: LimitSource,
): Promise<{ row: ConcurrencyLimitRow; created: boolean }> {
  const { rows: [{ existed }] } = await pool.query<{ existed: boolean }>({
    name: 'set-concurrency-limit', text: SET_CONCURRENCY_LIMIT, values: [name, limit.keyField, limit.maxRunning, source],
  });
  const row = await getConcurrencyLimit(pool, name);
  if (!row) throw new Error(`the concurrency limit of ${name} was removed as it was set`);
  return { row, created: !existed };
}

export async function removeConcurrencyLimit(pool: Pool, name: string): Promise<boolean> {
  const { rows: [{ existed }] } = await pool.query<{ existed: boolean }>({
    name: 'set-concurrency-limit', text: SET_CONCURRENCY_LIMIT, values: [name, null, null, 'api'],
  });
  return existed;
}

const LIST_LIMITS = `SELECT ${LIMIT_COLUMNS} FROM concurrency_limits l ORDER BY l.name`;

export async function listConcurrencyLimits(pool: Pool): Promise<ConcurrencyLimitRow[]> {
  return (await pool.query<ConcurrencyLimitRow>({ name: 'list-concurrency-limits', text: LIST_LIMITS })).rows;
}

const GET_LIMIT = `SELECT ${LIMIT_COLUMNS} FROM concurrency_limits l WHERE l.name = $1`;

export async function getConcurrencyLimit(pool: Pool, name: string): Promise<ConcurrencyLimitRow | null> {
  return (await pool.query<ConcurrencyLimitRow>({ name: 'get-concurrency-limit', text: GET_LIMIT, values: [name] })).rows[0] ?? null;
}
