import type { Pool } from '../../../common/src/db/pool';
import type { EventRow } from '../../../common/src/db/events';

const EVENT_COLUMNS = 'id, at, type, task_id, attempt, worker_id, command, message';

/* The newest $1 events with id <= $2, returned oldest first: the backlog of /api/logs and the stream. */
const RECENT_EVENTS = `
  SELECT * FROM (
    SELECT ${EVENT_COLUMNS} FROM events WHERE id <= $2 ORDER BY id DESC LIMIT $1
  ) newest ORDER BY id`;

export async function readRecentEvents(pool: Pool, limit: number, upToId = Number.MAX_SAFE_INTEGER): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>({ name: 'recent-events', text: RECENT_EVENTS, values: [limit, upToId] });
  return rows;
}

/* Events after $1 (exclusive) up to $2 (inclusive), oldest first, at most $3: tailing and Last-Event-ID resume. */
const EVENTS_AFTER = `
  SELECT ${EVENT_COLUMNS} FROM events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`;

export async function readEventsAfter(pool: Pool, afterId: number, limit: number, upToId = Number.MAX_SAFE_INTEGER): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>({ name: 'events-after', text: EVENTS_AFTER, values: [afterId, upToId, limit] });
  return rows;
}

/* The id of the newest event, 0 for none: where a new tail starts. */
const LAST_EVENT_ID = `SELECT coalesce(max(id), 0) AS id FROM events`;

export async function lastEventId(pool: Pool): Promise<number> {
  const { rows } = await pool.query<{ id: number }>(LAST_EVENT_ID);
  return rows[0].id;
}

/* One task's events, oldest first: its timeline (events_task_idx). */
const TASK_EVENTS = `SELECT ${EVENT_COLUMNS} FROM events WHERE task_id = $1 ORDER BY id LIMIT 1000`;

export async function readTaskEvents(pool: Pool, taskId: string): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>(TASK_EVENTS, [taskId]);
  return rows;
}
