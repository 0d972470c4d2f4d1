import { DELETE_PICKED_TASKS_WITH_EVENTS } from '../../../common/src/db/events';
import type { Pool } from '../../../common/src/db/pool';

export type FinishedStatus = 'succeeded' | 'failed' | 'cancelled';

/*
 * Deletes tasks that finished in one state more than $1 ms ago, at most $2 per statement, with their events.
 * Candidates are read oldest first by due time: a task finishes after it is due, so every task finished
 * before the cutoff is due before it too. Failed and cancelled ones come from tasks_status_scheduled_idx
 * (a range on status and due time); succeeded ones, left out of that index, from idx_tasks_scheduled_at. One
 * statement per state, each with its state written in, so each keeps its own plan. Only finished rows are
 * locked (SKIP LOCKED, as with several coordinators pruning), and the claim and the status writes never touch
 * finished rows: pruning never waits on, or holds up, the dispatch path.
 */
const pruneTasksSql = (status: FinishedStatus) => {
  const finishedAt = { succeeded: 'completed_at', failed: 'failed_at', cancelled: 'cancelled_at' }[status];
  return `
  WITH picked AS (
    SELECT id FROM tasks
    WHERE status = '${status}' AND scheduled_at < now() - make_interval(secs => $1::float8 / 1000)
      AND coalesce(${finishedAt}, updated_at) < now() - make_interval(secs => $1::float8 / 1000)
    ORDER BY scheduled_at
    LIMIT $2
    FOR UPDATE SKIP LOCKED
  ),
  ${DELETE_PICKED_TASKS_WITH_EVENTS}
  SELECT count(*)::int AS deleted FROM deleted`;
};

/** Deletes the tasks of `status` finished longer than `olderThanMs` ago, a batch per statement; returns how many. */
export async function pruneTasks(pool: Pool, status: FinishedStatus, olderThanMs: number, batch = 2000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rows } = await pool.query<{ deleted: number }>({ name: `prune-${status}-tasks`, text: pruneTasksSql(status), values: [olderThanMs, batch] });
    deleted += rows[0].deleted;
    if (rows[0].deleted < batch) return deleted;
  }
}
