import type { Pool } from '../../../common/src/db/pool';

/*
 * Deletes events older than $1 milliseconds, at most $2 rows per statement: the events table would
 * otherwise grow with every transition forever. Oldest first through events_at_idx; callers loop while a
 * full batch comes back, so one prune never becomes one huge transaction. Several coordinators may prune at
 * once: they skip each other's locked rows.
 */
const PRUNE_EVENTS = `
  DELETE FROM events WHERE id = ANY(ARRAY(
    SELECT id FROM events WHERE at < now() - make_interval(secs => $1::float8 / 1000)
    ORDER BY at LIMIT $2 FOR UPDATE SKIP LOCKED))`;

export async function pruneEvents(pool: Pool, olderThanMs: number, batch = 5000): Promise<number> {
  let deleted = 0;
  for (;;) {
    const { rowCount } = await pool.query(PRUNE_EVENTS, [olderThanMs, batch]);
    deleted += rowCount ?? 0;
    if ((rowCount ?? 0) < batch) return deleted;
  }
}
