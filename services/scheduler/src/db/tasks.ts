import type { Pool } from '../../../common/src/db/pool';

/** A tasks row as the scheduler reads it (columns of migrations 0001 and 0002). */
export interface TaskRow {
  id: string;
  command: string;
  status: 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  attempt: number;
  max_attempts: number;
  priority: number;
  worker_id: number | null;
  scheduled_at: Date;
  picked_at: Date | null;
  started_at: Date | null;
  completed_at: Date | null;
  failed_at: Date | null;
  cancelled_at: Date | null;
  lease_expires_at: Date | null;
  last_error: string | null;
  result: string | null;
  created_at: Date;
  updated_at: Date;
}

const TASK_COLUMNS = `id, command, status, attempt, max_attempts, priority, worker_id, scheduled_at, picked_at,
  started_at, completed_at, failed_at, cancelled_at, lease_expires_at, last_error, result, created_at, updated_at`;

/* One task by id (primary key). */
const GET_TASK = `SELECT ${TASK_COLUMNS} FROM tasks WHERE id = $1`;

export async function getTask(pool: Pool, id: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>({ name: 'get-task', text: GET_TASK, values: [id] });
  return rows[0];
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
}

/*
 * A page of tasks ordered by (scheduled_at, id), keyset-paginated: the cursor is the last row of the previous
 * page, so page 1,000 costs what page 1 costs (tasks_status_scheduled_idx; idx_tasks_scheduled_at for all
 * tasks and for succeeded ones, migration 0005), where OFFSET would read and discard every earlier row. Each filter is a parameter that is NULL when unused:
 *   $1 statuses (text[] or NULL), $2 cursor scheduled_at, $3 cursor id, $4 task id, $5 command prefix, $6 limit.
 * Two statements, one per direction, because the comparison and ORDER BY flip together.
 */
const FILTERS = `
  ($1::task_status[] IS NULL OR status = ANY($1::task_status[]))
  AND ($4::uuid IS NULL OR id = $4::uuid)
  AND ($5::text IS NULL OR starts_with(command, $5::text))`;

const LIST_TASKS_DESC = `
  SELECT ${TASK_COLUMNS} FROM tasks
  WHERE ${FILTERS} AND ($2::timestamptz IS NULL OR (scheduled_at, id) < ($2::timestamptz, $3::uuid))
  ORDER BY scheduled_at DESC, id DESC LIMIT $6`;

const LIST_TASKS_ASC = `
  SELECT ${TASK_COLUMNS} FROM tasks
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

/*
 * Cancels a task that has not been dispatched yet. Only `pending` can be cancelled: a dispatched or
 * running task is already in a worker's hands. RETURNING gives the updated row, or none when it did not apply.
 */
const CANCEL_TASK = `
  UPDATE tasks SET status = 'cancelled', cancelled_at = now(), updated_at = now()
  WHERE id = $1 AND status = 'pending'
  RETURNING ${TASK_COLUMNS}`;

export async function cancelTask(pool: Pool, id: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>(CANCEL_TASK, [id]);
  return rows[0];
}

/*
 * Runs a failed or cancelled task again now, with its whole retry budget: executions (what max_attempts
 * limits, migration 0006) start again from 0. max_attempts itself is left alone, so the retry never leaves its
 * CHECK range however often the task ran; `attempt` keeps counting claims, the fence.
 */
const RETRY_TASK = `
  UPDATE tasks SET status = 'pending', scheduled_at = now(), executions = 0, cancelled_at = NULL, updated_at = now()
  WHERE id = $1 AND status IN ('failed', 'cancelled')
  RETURNING ${TASK_COLUMNS}`;

export async function retryTask(pool: Pool, id: string): Promise<TaskRow | undefined> {
  const { rows } = await pool.query<TaskRow>(RETRY_TASK, [id]);
  return rows[0];
}
