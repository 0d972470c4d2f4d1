import type { Pool } from '../../../common/src/db/pool';
import type { EventRow } from '../../../common/src/db/events';

const EVENT_COLUMNS = 'id, at, type, task_id, attempt, worker_id, command, message';

/* The newest $1 events with id <= $2, returned oldest first: the backlog of /api/logs and of the stream. */
const RECENT_EVENTS = `
  SELECT * FROM (
    SELECT ${EVENT_COLUMNS} FROM events WHERE id <= $2 ORDER BY id DESC LIMIT $1
  ) newest ORDER BY id`;

export async function readRecentEvents(pool: Pool, limit: number, upToId = Number.MAX_SAFE_INTEGER): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>({ name: 'recent-events', text: RECENT_EVENTS, values: [limit, upToId] });
  return rows;
}

/* Events after $1 (exclusive) up to $2 (inclusive), oldest first, at most $3: /api/logs?after=. */
const EVENTS_AFTER = `
  SELECT ${EVENT_COLUMNS} FROM events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3`;

export async function readEventsAfter(pool: Pool, afterId: number, limit: number, upToId = Number.MAX_SAFE_INTEGER): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>({ name: 'events-after', text: EVENTS_AFTER, values: [afterId, upToId, limit] });
  return rows;
}

/* One task's events, oldest first: its timeline (events_task_idx). */
const TASK_EVENTS = `SELECT ${EVENT_COLUMNS} FROM events WHERE task_id = $1 ORDER BY id LIMIT 1000`;

export async function readTaskEvents(pool: Pool, taskId: string): Promise<EventRow[]> {
  const { rows } = await pool.query<EventRow>(TASK_EVENTS, [taskId]);
  return rows;
}

/** What a read of the table could see: the snapshot's xmin and xmax (xid8, as decimal text). */
export interface SnapshotBounds {
  /** Every transaction with an xid below this had ended when the statement ran. */
  xmin: bigint;
  /** Every transaction with an xid at or above this had not started (or had no xid yet). */
  xmax: bigint;
}

export interface EventPage {
  rows: EventRow[];
  snapshot: SnapshotBounds;
}

/*
 * Events after $1 (exclusive) up to $2 (inclusive), oldest first, at most $3, with the bounds of the
 * statement's snapshot: one statement, so the rows and the bounds describe the same moment
 * (pg_current_snapshot() returns the statement's snapshot). The feed uses the bounds to tell an id that is
 * still being committed from one that never will be (event-feed.ts).
 */
const EVENT_PAGE = `
  SELECT s.xmin, s.xmax, e.*
  FROM (SELECT pg_snapshot_xmin(c)::text AS xmin, pg_snapshot_xmax(c)::text AS xmax FROM pg_current_snapshot() c) s
  LEFT JOIN LATERAL (
    SELECT ${EVENT_COLUMNS} FROM events WHERE id > $1 AND id <= $2 ORDER BY id LIMIT $3
  ) e ON true`;

export async function readEventPage(pool: Pool, afterId: number, limit: number, upToId = Number.MAX_SAFE_INTEGER): Promise<EventPage> {
  const { rows } = await pool.query<EventRow & { xmin: string; xmax: string }>({ name: 'event-page', text: EVENT_PAGE, values: [afterId, upToId, limit] });
  const snapshot = { xmin: BigInt(rows[0].xmin), xmax: BigInt(rows[0].xmax) };
  const events = rows.filter((row) => row.id !== null).map(({ xmin: _xmin, xmax: _xmax, ...event }) => event);
  return { rows: events, snapshot };
}

/* The newest event id (0 for none) and the snapshot's bounds, in one statement: where a tail starts. */
const EVENT_HEAD = `
  SELECT coalesce((SELECT max(id) FROM events), 0) AS id,
         pg_snapshot_xmin(c)::text AS xmin, pg_snapshot_xmax(c)::text AS xmax
  FROM pg_current_snapshot() c`;

export async function readEventHead(pool: Pool): Promise<{ lastId: number; snapshot: SnapshotBounds }> {
  const { rows } = await pool.query<{ id: number; xmin: string; xmax: string }>({ name: 'event-head', text: EVENT_HEAD });
  return { lastId: rows[0].id, snapshot: { xmin: BigInt(rows[0].xmin), xmax: BigInt(rows[0].xmax) } };
}
