import type { Pool } from '../../../common/src/db/pool';

export interface OverdueAttempt {
  task_id: string;
  attempt: number;
  worker_id: number;
  timeout_seconds: number;
}

/*
 * Attempts held past their task's timeout_seconds plus a grace ($1 ms), counted from their start, or from the
 * claim for one never reported started. Their worker should have aborted them and reported the timeout
 * itself; this finds those of workers that cannot (original-contract workers) or did not. The status
 * condition is tasks_lease_idx's predicate, so only the attempts in flight are read (at most every worker's
 * slots). $2 bounds one sweep.
 */
const FIND_OVERDUE_ATTEMPTS = `
  SELECT id AS task_id, attempt, worker_id, timeout_seconds FROM tasks
  WHERE status IN ('dispatched', 'running') AND timeout_seconds IS NOT NULL AND worker_id IS NOT NULL
    AND coalesce(started_at, picked_at) + make_interval(secs => timeout_seconds + $1::int / 1000.0) < now()
  LIMIT $2`;

export async function findOverdueAttempts(pool: Pool, graceMs: number, limit: number): Promise<OverdueAttempt[]> {
  const { rows } = await pool.query<OverdueAttempt>({ name: 'find-overdue-attempts', text: FIND_OVERDUE_ATTEMPTS, values: [Math.ceil(graceMs), limit] });
  return rows;
}
