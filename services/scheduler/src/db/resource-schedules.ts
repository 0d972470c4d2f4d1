import type { Pool } from '../../../common/src/db/pool';
import { SCHEDULE_COLUMNS, type ScheduleRow } from '../../../common/src/db/schedules';

/** A TaskSchedule's schedule, with the state of the last task it made (what the resource's status shows). */
export interface ResourceScheduleRow extends ScheduleRow {
  /** tasks.status of last_task_id; null when it made none yet, or that task was pruned. */
  last_task_status: 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled' | null;
  /** That task's due time: the occurrence it ran for. */
  last_task_scheduled_at: Date | null;
}

/* A schedule's last task, joined so that only its two columns are in scope beside the schedule's. */
const WITH_LAST_TASK = `
  schedules LEFT JOIN LATERAL (
    SELECT status AS last_task_status, scheduled_at AS last_task_scheduled_at FROM tasks WHERE tasks.id = schedules.last_task_id
  ) last_task ON true`;

/*
 * The schedules of one namespace's TaskSchedules ($1 the key prefix "k8s:<namespace>:"), with their last
 * task; read all at once by the reconciler's resync and status refresh. A deployment has tens or hundreds of
 * schedules, so a scan is cheap; starts_with could not use the key's unique index anyway (default collation).
 */
const LIST_RESOURCE_SCHEDULES = `
  SELECT ${SCHEDULE_COLUMNS}, last_task_status, last_task_scheduled_at
  FROM ${WITH_LAST_TASK}
  WHERE source = 'kubernetes' AND starts_with(key, $1)
  LIMIT 10000`;

export async function listResourceSchedules(pool: Pool, keyPrefix: string): Promise<ResourceScheduleRow[]> {
  const { rows } = await pool.query<ResourceScheduleRow>({ name: 'list-resource-schedules', text: LIST_RESOURCE_SCHEDULES, values: [keyPrefix] });
  return rows;
}

/* One schedule by key ($1), whatever its source, with its last task: the reconciler checks who owns the key. */
const GET_SCHEDULE_BY_KEY = `
  SELECT ${SCHEDULE_COLUMNS}, last_task_status, last_task_scheduled_at
  FROM ${WITH_LAST_TASK}
  WHERE key = $1`;

export async function getScheduleByKey(pool: Pool, key: string): Promise<ResourceScheduleRow | undefined> {
  const { rows } = await pool.query<ResourceScheduleRow>({ name: 'get-schedule-by-key', text: GET_SCHEDULE_BY_KEY, values: [key] });
  return rows[0];
}

/* Deletes a TaskSchedule's schedule by key ($1); never another source's. The tasks it made stay. */
const DELETE_RESOURCE_SCHEDULE = `DELETE FROM schedules WHERE key = $1 AND source = 'kubernetes'`;

export async function deleteResourceSchedule(pool: Pool, key: string): Promise<boolean> {
  const { rowCount } = await pool.query({ name: 'delete-resource-schedule', text: DELETE_RESOURCE_SCHEDULE, values: [key] });
  return (rowCount ?? 0) > 0;
}
