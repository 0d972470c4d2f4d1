import type { Pool } from '../../../common/src/db/pool';
import { textArray, uuidArray } from '../../../common/src/db/array-literal';
import { DELETE_PICKED_TASKS_WITH_EVENTS } from '../../../common/src/db/events';
import { RETRY_SET, cancelSet, tellCancelled } from './tasks';

export interface BulkFilter {
  statuses?: readonly string[];
  name?: string;
  queue?: string;
  createdAfter?: Date;
  createdBefore?: Date;
  /** Text the last error contains, any case. */
  error?: string;
  ids?: readonly string[];
}

/*
 * Bulk actions (POST /api/tasks/bulk): each statement picks up to $8 tasks that the filter matches and the action
 * applies to, locks them (SKIP LOCKED: a task being claimed or reported right now is left for the next chunk),
 * and acts on them, in one statement. Each filter is a parameter that is NULL when unused:
 *   $1 statuses, $2 name, $3 queue, $4 created at or after, $5 created before, $6 an ILIKE pattern of last_error,
 *   $7 ids. A filter by ids reads the primary key and one by status the status index; others scan.
 */
const FILTERS = `
  ($1::task_status[] IS NULL OR status = ANY($1::task_status[]))
  AND ($2::text IS NULL OR name = $2::text)
  AND ($3::text IS NULL OR queue = $3::text)
  AND ($4::timestamptz IS NULL OR created_at >= $4::timestamptz)
  AND ($5::timestamptz IS NULL OR created_at < $5::timestamptz)
  AND ($6::text IS NULL OR last_error ILIKE $6::text)
  AND ($7::uuid[] IS NULL OR id = ANY($7::uuid[]))`;

/** The states each action applies to. */
const APPLIES_TO = { cancel: "'pending', 'dispatched', 'running'", retry: "'failed', 'cancelled'", delete: "'succeeded', 'failed', 'cancelled'" } as const;

const picked = (action: keyof typeof APPLIES_TO) => `
  picked AS (
    SELECT id FROM tasks WHERE status IN (${APPLIES_TO[action]}) AND ${FILTERS}
    LIMIT $8 FOR UPDATE SKIP LOCKED
  )`;

/* Cancel, as POST /api/tasks/:id/cancel does for one ($9 the reason): held attempts are stopped on their workers. */
const BULK_CANCEL = `
  WITH ${picked('cancel')},
  cancelled AS (
    UPDATE tasks t SET ${cancelSet('$9')}
    FROM picked WHERE t.id = picked.id
    RETURNING t.id, t.attempt, t.worker_id
  )
  SELECT count(*)::int AS affected FROM cancelled
  ${tellCancelled('$9')}`;

/* Retry, as POST /api/tasks/:id/retry does for one: pending now, with the whole retry budget again. */
const BULK_RETRY = `
  WITH ${picked('retry')},
  retried AS (
    UPDATE tasks t SET ${RETRY_SET}
    FROM picked WHERE t.id = picked.id
    RETURNING t.id
  )
  SELECT count(*)::int AS affected FROM retried`;

/* Delete finished tasks and their events (a task in flight is never deleted: its worker still reports on it). */
const BULK_DELETE = `
  WITH ${picked('delete')},
  ${DELETE_PICKED_TASKS_WITH_EVENTS}
  SELECT count(*)::int AS affected FROM deleted`;

const STATEMENTS = { cancel: BULK_CANCEL, retry: BULK_RETRY, delete: BULK_DELETE } as const;

/* How many tasks an action would apply to (dry_run), for a progress bar's total. */
const countMatching = (action: keyof typeof APPLIES_TO) => `SELECT count(*)::int AS matched FROM tasks WHERE status IN (${APPLIES_TO[action]}) AND ${FILTERS}`;

/** LIKE's wildcards in user text are literal: "50%" finds "50%", not "50" and anything. */
const containsPattern = (text: string) => `%${text.replace(/[\\%_]/g, '\\$&')}%`;

function filterValues(filter: BulkFilter): unknown[] {
  return [
    filter.statuses ? textArray([...filter.statuses]) : null,
    filter.name ?? null,
    filter.queue ?? null,
    filter.createdAfter ?? null,
    filter.createdBefore ?? null,
    filter.error === undefined ? null : containsPattern(filter.error),
    filter.ids ? uuidArray(filter.ids.map((id) => id.toLowerCase())) : null,
  ];
}

/** How many tasks the action would apply to now. */
export async function countBulk(pool: Pool, action: keyof typeof STATEMENTS, filter: BulkFilter): Promise<number> {
  const { rows } = await pool.query<{ matched: number }>({ name: `bulk-count-${action}`, text: countMatching(action), values: filterValues(filter) });
  return rows[0].matched;
}

/** Acts on up to `limit` matching tasks; returns how many changed. */
export async function bulkAct(pool: Pool, action: keyof typeof STATEMENTS, filter: BulkFilter, limit: number, reason = 'cancelled'): Promise<number> {
  const values = [...filterValues(filter), limit];
  if (action === 'cancel') values.push(reason);
  const { rows } = await pool.query<{ affected: number }>({ name: `bulk-${action}`, text: STATEMENTS[action], values });
  return rows[0].affected;
}
