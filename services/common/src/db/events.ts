import type { Pool } from './pool';

/** Event types of the log stream: task transitions (written by triggers) and operator events. */
export const EVENT_TYPES = [
  'scheduled', 'assigned', 'started', 'completed', 'failed', 'retried', 'reassigned', 'cancelled',
  'worker_joined', 'worker_left', 'worker_evicted', 'scale', 'kill',
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
