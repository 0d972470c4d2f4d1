import { tasksCreated } from '../metrics';
import { numberArray, textArray, timestampArray } from './array-literal';
import { ASYNC_COMMIT, waitUntilDurable } from './durability';
import { ConflictError, ValidationError } from '../errors';
import type { RetryPolicy } from '../../../sdk/src/http/schemas';
import type { Pool } from './pool';

export interface NewTask {
  /** A command task's command; a named task has none (NULL). */
  command?: string | null;
  /** The task's type; absent for a command task. */
  name?: string | null;
  /** Default 'default'. */
  queue?: string;
  /** Any JSON value, already validated and size-checked; undefined or null stores no payload. */
  payload?: unknown;
  scheduledAt: Date;
  maxAttempts?: number;
  priority?: number;
  idempotencyKey?: string;
  /** Seconds an attempt may run (1 to a week, checked by the caller); absent: the worker's default. */
  timeoutSeconds?: number;
  /** With an idempotency key: a hash of the request that carries it (migration 0016), so another request with the key is refused. */
  fingerprint?: string;
  /** The retry policy, stored as the API takes it (migration 0014); absent: the coordinator's defaults. */
  retry?: RetryPolicy;
}

export interface InsertedTask {
  id: string;
  command: string | null;
  name: string | null;
  scheduled_at: Date;
  /** False when an idempotency key matched an existing task, which is returned instead. */
  inserted: boolean;
}

/*
 * Inserts any number of tasks in one statement: one round trip and one trigger run for a whole batch
 * (~170k rows/s here, DESIGN.md §8). The AFTER INSERT trigger records "scheduled" events and NOTIFYs the
 * coordinators, so nothing else is needed for the tasks to run. The statement commits without waiting for
 * the disk, so the coordinators can claim the tasks at once; insertTasks returns only once they are durable
 * (durability.ts).
 * An idempotency key that exists already returns the existing row (inserted = false); the no-op
 * DO UPDATE is what makes RETURNING include it. The key's unique index is partial (migration 0005), so
 * the conflict target repeats its predicate.
 * $1 commands, $2 scheduled_at, $3 max_attempts, $4 priorities, $5 idempotency keys (NULL for none),
 * $6 names (NULL for a command task), $7 queues, $8 payloads as JSON text (NULL for none): text rather than
 * jsonb[] because an array of JSON documents is simplest to send as the documents' text; $9 timeouts in seconds
 * (NULL for none); $10 retry policies as JSON text (NULL for none); $11 idempotency fingerprints. A key used
 * before with another fingerprint fails the whole statement with SQLSTATE TM409 (migration 0016): nothing is
 * written.
 */
const INSERT_TASKS = `
  WITH ${ASYNC_COMMIT}
  INSERT INTO tasks AS t (command, scheduled_at, max_attempts, priority, idempotency_key, name, queue, payload, timeout_seconds, retry,
                         idempotency_fingerprint)
  SELECT u.command, u.scheduled_at, u.max_attempts, u.priority, u.idempotency_key, u.name, u.queue, u.payload::jsonb, u.timeout_seconds,
         u.retry::jsonb, u.fingerprint
  FROM async_commit,
       unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[], $6::text[], $7::text[], $8::text[], $9::int[], $10::text[],
              $11::text[])
         AS u (command, scheduled_at, max_attempts, priority, idempotency_key, name, queue, payload, timeout_seconds, retry, fingerprint)
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL
  DO UPDATE SET idempotency_key = CASE
    WHEN t.idempotency_fingerprint IS DISTINCT FROM EXCLUDED.idempotency_fingerprint
         AND t.idempotency_fingerprint IS NOT NULL AND EXCLUDED.idempotency_fingerprint IS NOT NULL
    THEN reject_idempotency_reuse(EXCLUDED.idempotency_key, t.id)
    ELSE EXCLUDED.idempotency_key END
  RETURNING id, command, name, scheduled_at, (xmax = 0) AS inserted`;

/*
 * The same for command tasks with no payload, timeout or retry policy in the default queue, the original contract's tasks: the columns
 * they leave at their defaults are not sent, three arrays fewer to encode and unnest. $1-$5 as above.
 */
const INSERT_COMMAND_TASKS = `
  WITH ${ASYNC_COMMIT}
  INSERT INTO tasks (command, scheduled_at, max_attempts, priority, idempotency_key)
  SELECT u.* FROM async_commit, unnest($1::text[], $2::timestamptz[], $3::int[], $4::int[], $5::text[]) AS u
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL
  DO UPDATE SET idempotency_key = EXCLUDED.idempotency_key
  RETURNING id, command, name, scheduled_at, (xmax = 0) AS inserted`;

const isPlainCommand = (task: NewTask) =>
  (task.name ?? null) === null && (task.queue ?? 'default') === 'default' && (task.payload ?? null) === null
  && task.timeoutSeconds === undefined && task.retry === undefined && task.fingerprint === undefined;

/*
 * Frees keys older than their lifetime ($2 ms) among $1, so that a request with one of them makes a new task.
 * Runs before an insert that carries keys; a task keeps its old key until then (no sweep): the lifetime is
 * checked when the key is used again.
 */
const RELEASE_EXPIRED_KEYS = `
  UPDATE tasks SET idempotency_key = NULL, idempotency_fingerprint = NULL
  WHERE idempotency_key = ANY($1::text[]) AND created_at < now() - make_interval(secs => $2::float8 / 1000)`;

/** How long an idempotency key names its first task: IDEMPOTENCY_KEY_TTL's default, 24 h. */
export const DEFAULT_KEY_TTL_MS = 86_400_000;

/** Inserting a key used by another request (another fingerprint) within its lifetime: a 409. */
function conflictOf(err: unknown): unknown {
  return (err as { code?: string }).code === 'TM409' ? new ConflictError((err as Error).message) : err;
}

export async function insertTasks(pool: Pool, tasks: readonly NewTask[], options: { keyTtlMs?: number } = {}): Promise<InsertedTask[]> {
  if (tasks.length === 0) return [];
  // A time past Date's range (gRPC SubmitTask's scheduled_at near 2^53 seconds) would fail the statement: the caller's fault.
  if (tasks.some((task) => Number.isNaN(task.scheduledAt.getTime()))) {
    throw new ValidationError('scheduled_at is beyond the times a task may be scheduled at', 'scheduled_at');
  }
  const keys: string[] = [];
  for (const task of tasks) if (task.idempotencyKey !== undefined) keys.push(task.idempotencyKey);
  if (keys.length > 0) {
    await pool.query({ name: 'release-expired-keys', text: RELEASE_EXPIRED_KEYS, values: [textArray(keys), options.keyTtlMs ?? DEFAULT_KEY_TTL_MS] });
  }
  const common = [
    textArray(tasks.map((task) => task.command ?? null)),
    timestampArray(tasks.map((task) => task.scheduledAt)),
    numberArray(tasks.map((task) => task.maxAttempts ?? 3)),
    numberArray(tasks.map((task) => task.priority ?? 0)),
    textArray(tasks.map((task) => task.idempotencyKey ?? null)),
  ];
  const { rows } = tasks.every(isPlainCommand)
    ? await pool.query<InsertedTask>({ name: 'insert-command-tasks', text: INSERT_COMMAND_TASKS, values: common })
    : await pool.query<InsertedTask>({ name: 'insert-tasks', text: INSERT_TASKS, values: [
      ...common,
      textArray(tasks.map((task) => task.name ?? null)),
      textArray(tasks.map((task) => task.queue ?? 'default')),
      textArray(tasks.map((task) => (task.payload === undefined || task.payload === null ? null : JSON.stringify(task.payload)))),
      numberArray(tasks.map((task) => task.timeoutSeconds ?? null)),
      textArray(tasks.map((task) => (task.retry === undefined ? null : JSON.stringify(task.retry)))),
      textArray(tasks.map((task) => task.fingerprint ?? null)),
    ] }).catch((err: unknown) => { throw conflictOf(err); });
  await waitUntilDurable(pool);
  // Counted here, the one way tasks are created (scheduler HTTP and coordinator gRPC alike).
  tasksCreated.inc(rows.filter((row) => row.inserted).length);
  return rows;
}
