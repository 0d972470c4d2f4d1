import type { Pool } from '../../../common/src/db/pool';
import { SCHEDULE_COLUMNS, type ScheduleRow } from '../../../common/src/db/schedules';

/* Every schedule, by task name then id; a deployment has tens or hundreds, so no paging (at most 1,000). */
const LIST_SCHEDULES = `SELECT ${SCHEDULE_COLUMNS} FROM schedules ORDER BY name, id LIMIT 1000`;

export async function listSchedules(pool: Pool): Promise<ScheduleRow[]> {
  const { rows } = await pool.query<ScheduleRow>({ name: 'list-schedules', text: LIST_SCHEDULES });
  return rows;
}

const GET_SCHEDULE = `SELECT ${SCHEDULE_COLUMNS} FROM schedules WHERE id = $1`;

export async function getSchedule(pool: Pool, id: string): Promise<ScheduleRow | undefined> {
  const { rows } = await pool.query<ScheduleRow>({ name: 'get-schedule', text: GET_SCHEDULE, values: [id] });
  return rows[0];
}

/*
 * Pauses ($2 true) or resumes ($2 false) a schedule. Resuming starts from the next occurrence after now ($3):
 * occurrences that fell in the pause are not caught up, as they would be after downtime.
 */
const SET_PAUSED = `
  UPDATE schedules SET paused = $2, next_run_at = CASE WHEN $2 THEN next_run_at ELSE $3 END, updated_at = now()
  WHERE id = $1
  RETURNING ${SCHEDULE_COLUMNS}`;

export async function setPaused(pool: Pool, id: string, paused: boolean, nextRunAt: Date | null): Promise<ScheduleRow | undefined> {
  const { rows } = await pool.query<ScheduleRow>({ name: 'set-schedule-paused', text: SET_PAUSED, values: [id, paused, nextRunAt] });
  return rows[0];
}

/* Deletes a schedule; the tasks it made stay. */
const DELETE_SCHEDULE = `DELETE FROM schedules WHERE id = $1`;

export async function deleteSchedule(pool: Pool, id: string): Promise<boolean> {
  const { rowCount } = await pool.query({ name: 'delete-schedule', text: DELETE_SCHEDULE, values: [id] });
  return (rowCount ?? 0) > 0;
}
