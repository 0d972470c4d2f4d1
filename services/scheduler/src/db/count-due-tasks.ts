import type { Pool } from '../../../common/src/db/pool';

/*
 * The queue depth the autoscaler sizes workers for: pending tasks that are due now, counted up to $1.
 * Tasks scheduled for later need no worker yet. The partial index tasks_pending_due_idx (scheduled_at, id)
 * WHERE status = 'pending' serves the range, and the LIMIT bounds the scan however deep the backlog is:
 * beyond what the maximum replica count can serve the exact number changes no decision.
 */
const COUNT_DUE_TASKS = `
  SELECT count(*)::int AS count FROM (
    SELECT 1 FROM tasks WHERE status = 'pending' AND scheduled_at <= now() LIMIT $1
  ) due`;

export async function countDueTasks(pool: Pool, cap: number): Promise<number> {
  const { rows } = await pool.query<{ count: number }>({ name: 'count-due-tasks', text: COUNT_DUE_TASKS, values: [cap] });
  return rows[0].count;
}
