import type { Pool } from './pool';

/** Event types of the log stream: task transitions (written by triggers) and operator events. */
export const EVENT_TYPES = [
  'scheduled', 'assigned', 'started', 'completed', 'failed', 'retried', 'reassigned', 'cancelled',
  'worker_joined', 'worker_left', 'worker_evicted', 'scale', 'kill', 'operator',
] as const;
export type EventType = (typeof EVENT_TYPES)[number];

export interface EventRow {
  id: number;
  at: Date;
  type: EventType;
  task_id: string | null;
  attempt: number | null;
  worker_id: number | null;
  command: string | null;
  message: string | null;
}

export interface NewEvent {
  type: EventType;
  workerId?: number;
  message: string;
}

/*
 * Records an operator event (a worker joining or evicted, a scale or kill). Task transitions are not
 * written here: the triggers of migration 0003 record those in the same statement that makes them.
 */
const INSERT_EVENT = `INSERT INTO events (type, worker_id, message) VALUES ($1, $2, $3)`;

export async function insertEvent(pool: Pool, event: NewEvent): Promise<void> {
  await pool.query(INSERT_EVENT, [event.type, event.workerId ?? null, event.message]);
}

/*
 * Two CTEs that delete the tasks whose ids the CTE `picked` holds, and their events (by events_task_idx), as
 * `deleted` (the tasks' ids) and `events_deleted`: the bulk delete's and the retention prune's one shape.
 */
export const DELETE_PICKED_TASKS_WITH_EVENTS = `
  deleted AS (DELETE FROM tasks t USING picked WHERE t.id = picked.id RETURNING t.id),
  events_deleted AS (DELETE FROM events WHERE task_id IN (SELECT id FROM deleted))`;
