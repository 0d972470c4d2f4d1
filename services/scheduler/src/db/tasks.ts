import type { NewTask } from '../../../common/src/db/insert-tasks';
import type { Pool } from '../../../common/src/db/pool';

/** A tasks row as the scheduler reads it (columns of migrations 0001, 0002 and 0006). */
export interface TaskRow {
  id: string;
  /** NULL for a named task. */
  command: string | null;
  /** NULL for a command task. */
  name: string | null;
  queue: string;
  /** JSONB, parsed by pg; NULL when the task has none; undefined in list rows. */
  payload?: unknown;
  status: 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  attempt: number;
  executions: number;
  max_attempts: number;
  priority: number;
  timeout_seconds: number | null;
  /** JSONB (migration 0014), parsed by pg; NULL: the coordinator's defaults. */
  retry: NewTask['retry'] | null;
  worker_id: number | null;
  scheduled_at: Date;
  picked_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  cancelled_at: Date | null;
  lease_expires_at: Date | null;
  last_error: string | null;
  /** JSONB, parsed by pg; undefined in list rows. */
  result?: unknown;
  created_at: Date;
  updated_at: Date;
}

/** The columns of a list row: everything but the payload and result, which may each be up to 256 KiB. */
const LIST_COLUMNS = `id, command, name, queue, status, attempt, executions, max_attempts, priority, timeout_seconds, retry, worker_id, scheduled_at, picked_at,
  started_at, completed_at, failed_at, cancelled_at, lease_expires_at, last_error, created_at, updated_at`;
const TASK_COLUMNS = `${LIST_COLUMNS}, payload, result`;

/* One task by id (primary key). */
const GET_TASK = `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`;

export async function getTask(pool: Pool, id: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>({ name: 'get-task', text: GET_TASK, values: [id] });
  return rows[0];
}

/* Tasks by id ($1 uuid[], primary key); getTasks returns them in the order of the ids, leaving out missing ones. */
const GET_TASKS = `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = ANY($1::uuid[])`;

export async function getTasks(pool: Pool, ids: readonly string[]): Promise<TaskRow[]> {
  const { rows } = await pool.query<TaskRow>({ name: 'get-tasks', text: GET_TASKS, values: [ids] });
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.flatMap((id) => byId.get(id) ?? []);
}

export interface ListTasksQuery {
  /** Only tasks in these statuses; empty for all. */
  statuses: string[];
  limit: number;
  order: 'asc' | 'desc';
  /** Keyset cursor: the (scheduled_at, id) of the last task of the previous page. */
  after?: { scheduledAt: Date; id: string };
  /** Exact task id, or a command prefix. */
  taskId?: string;
  commandPrefix?: string;
  /** Exact task name and queue. */
  name?: string;
  queue?: string;
}

/*
 * A page of tasks ordered by (scheduled_at, id), keyset-paginated: the cursor is the last row of the previous
 * page, so page 1,000 costs what page 1 costs (tasks_status_scheduled_idx; idx_tasks_scheduled_at for all
 * tasks and for succeeded ones, migration 0005), where OFFSET would read and discard every earlier row. Each filter is a parameter that is NULL when unused:
 *   $1 statuses (text[] or NULL), $2 cursor scheduled_at, $3 cursor id, $4 task id, $5 command prefix, $6 limit,
 *   $7 name, $8 queue.
 * Two statements, one per direction, because the comparison and ORDER BY flip together. A page leaves payloads
 * and results out: 50 of them could be megabytes, and the dashboard polls this.
 */
const FILTERS = `
  ($1::task_status[] IS NULL OR status = ANY($1::task_status[]))
  AND ($4::uuid IS NULL OR id = $4::uuid)
  AND ($5::text IS NULL OR starts_with(command, $5::text))
  AND ($7::text IS NULL OR name = $7::text)
  AND ($8::text IS NULL OR queue = $8::text)`;

const LIST_TASKS_DESC = `
  SELECT ${LIST_COLUMNS} FROM tasks
  WHERE ${FILTERS} AND ($2::timestamptz IS NULL OR (scheduled_at, id) < ($2::timestamptz, $3::uuid))
  ORDER BY scheduled_at DESC, id DESC LIMIT $6`;

const LIST_TASKS_ASC = `
  SELECT ${LIST_COLUMNS} FROM tasks
  WHERE ${FILTERS} AND ($2::timestamptz IS NULL OR (scheduled_at, id) > ($2::timestamptz, $3::uuid))
  ORDER BY scheduled_at, id LIMIT $6`;

export async function listTasks(pool: Pool, query: ListTasksQuery): Promise<TaskRow[]> {
  const { rows } = await pool.query<TaskRow>(query.order === 'asc' ? LIST_TASKS_ASC : LIST_TASKS_DESC, [
    query.statuses.length > 0 ? query.statuses : null,
    query.after?.scheduledAt ?? null,
    query.after?.id ?? null,
    query.taskId ?? null,
    query.commandPrefix ?? null,
    query.limit,
    query.name ?? null,
    query.queue ?? null,
  ]);
  return rows;
}

/* Tasks per status; a sequential count over the status index, fine into the hundreds of thousands. */
const COUNT_TASKS = `SELECT status, count(*) AS count FROM tasks GROUP BY status`;

export async function countTasksByStatus(pool: Pool): Promise<Record<TaskRow['status'], number>> {
  const counts = { pending: 0, dispatched: 0, running: 0, succeeded: 0, failed: 0, cancelled: 0 };
  const { rows } = await pool.query<{ status: TaskRow['status']; count: number }>({ name: 'count-tasks', text: COUNT_TASKS });
  for (const row of rows) counts[row.status] = row.count;
  return counts;
}

/** A cancel's changes to a row; `reason` is the parameter holding the reason (single and bulk cancels alike). */
export const cancelSet = (reason: string) =>
  `status = 'cancelled', cancelled_at = now(), lease_expires_at = NULL, last_error = ${reason}, updated_at = now()`;

/** Joined to the CTE `cancelled` (its id, attempt, worker_id): one NOTIFY per row that names a worker. */
export const tellCancelled = (reason: string) => `
  LEFT JOIN LATERAL (
    SELECT pg_notify('taskmaster_cancels', json_build_object('task_id', id, 'attempt', attempt, 'worker_id', worker_id, 'reason', left(${reason}, 500))::text)
    WHERE worker_id IS NOT NULL
  ) told ON true`;

/*
 * Cancels a task that has not finished: pending, or held by a worker (dispatched, running). $2 the reason, kept
 * in last_error (the 'cancelled' event carries it, migration 0013). The row lock orders the cancel against a
 * finish report: whichever commits first wins and the other's status condition no longer holds, so a task
 * ends in one terminal state. The attempt's worker is named on taskmaster_cancels, and its coordinator stops
 * the attempt at once (task-stops.ts); a worker no coordinator reaches that way drops it when its next
 * heartbeat is answered. A pending task may name the worker of an earlier attempt: told to stop an attempt
 * it does not hold, that worker does nothing. RETURNING gives the row, or none when it did not apply.
 */
const CANCEL_TASK = `
  WITH cancelled AS (
    UPDATE tasks SET ${cancelSet('$2')}
    WHERE id = $1 AND status IN ('pending', 'dispatched', 'running')
    RETURNING ${TASK_COLUMNS}
  )
  SELECT cancelled.* FROM cancelled
  ${tellCancelled('$2')}`;

export async function cancelTask(pool: Pool, id: string, reason: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>({ name: 'cancel-task', text: CANCEL_TASK, values: [id, reason] });
  return rows[0];
}

/**
 * A retry's changes to a row (single and bulk retries alike). The task is gated again as a new one would be
 * (migration 0017's task_gate): queue controls and concurrency limits may have changed since it ran. In the
 * statement rather than a BEFORE UPDATE trigger, which would make PostgreSQL lock every updated task's row
 * once more, claims and reports included.
 */
export const RETRY_SET = `status = 'pending', scheduled_at = now(), executions = 0, cancelled_at = NULL, updated_at = now(),
  (concurrency_key, gated) = (SELECT g.key, g.gated FROM task_gate(name, queue, payload) g)`;

/*
 * Runs a failed or cancelled task again now, with its whole retry budget: executions (what max_attempts
 * limits, migration 0006) start again from 0. max_attempts itself is left alone, so the retry never leaves its
 * CHECK range however often the task ran; `attempt` keeps counting claims, the fence.
 */
const RETRY_TASK = `
  UPDATE tasks SET ${RETRY_SET}
  WHERE id = $1 AND status IN ('failed', 'cancelled')
  RETURNING ${TASK_COLUMNS}`;

export async function retryTask(pool: Pool, id: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>(RETRY_TASK, [id]);
  return rows[0];
}
