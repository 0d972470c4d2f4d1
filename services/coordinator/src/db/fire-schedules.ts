import type { PoolClient } from 'pg';
import type { Pool } from '../../../common/src/db/pool';
import type { ScheduleRow } from '../../../common/src/db/schedules';
import { timestampArray } from '../../../common/src/db/array-literal';

/** A due schedule, locked, with the status of the task its last occurrence made (for overlap: skip). */
export type DueSchedule = Pick<ScheduleRow, 'id' | 'name' | 'queue' | 'priority' | 'max_attempts' | 'timeout_seconds' | 'cron' | 'timezone'
  | 'overlap' | 'catch_up' | 'last_task_id'> & { payload: string | null; next_run_at: Date; last_status: string | null };

/*
 * Active schedules whose next occurrence has come, earliest first, locked for this transaction. SKIP LOCKED:
 * another coordinator firing some of them now takes them, and this one takes the rest (schedules_due_idx).
 */
const LOCK_DUE_SCHEDULES = `
  SELECT s.id, s.name, s.payload::text AS payload, s.queue, s.priority, s.max_attempts, s.timeout_seconds, s.cron,
         s.timezone, s.overlap, s.catch_up, s.next_run_at, s.last_task_id,
         (SELECT status::text FROM tasks WHERE id = s.last_task_id) AS last_status
  FROM schedules s
  WHERE NOT s.paused AND s.next_run_at <= now()
  ORDER BY s.next_run_at
  LIMIT $1
  FOR UPDATE OF s SKIP LOCKED`;

export async function lockDueSchedules(client: PoolClient, limit: number): Promise<DueSchedule[]> {
  const { rows } = await client.query<DueSchedule>({ name: 'lock-due-schedules', text: LOCK_DUE_SCHEDULES, values: [limit] });
  return rows;
}

/*
 * One task per occurrence ($8, the occurrences' times), due at the occurrence. The idempotency key names the
 * schedule and the occurrence, so an occurrence already made (by a coordinator whose commit this one did not
 * see, or before a restart) makes nothing here: exactly one task per occurrence.
 */
const INSERT_OCCURRENCES = `
  INSERT INTO tasks (name, payload, queue, priority, max_attempts, timeout_seconds, scheduled_at, idempotency_key)
  SELECT $1, $2::jsonb, $3, $4, $5, $6, occurrence, 'schedule:' || $7::text || ':' || (extract(epoch FROM occurrence) * 1000)::bigint
  FROM unnest($8::timestamptz[]) AS occurrence
  ON CONFLICT (idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
  RETURNING id, scheduled_at`;

export async function insertOccurrences(client: PoolClient, schedule: DueSchedule, occurrences: readonly Date[]): Promise<Array<{ id: string; scheduled_at: Date }>> {
  if (occurrences.length === 0) return [];
  const { rows } = await client.query<{ id: string; scheduled_at: Date }>({
    name: 'insert-schedule-occurrences',
    text: INSERT_OCCURRENCES,
    values: [schedule.name, schedule.payload, schedule.queue, schedule.priority, schedule.max_attempts, schedule.timeout_seconds, schedule.id, timestampArray(occurrences)],
  });
  return rows;
}

/* Moves the schedule on: its next occurrence, and what its last fired occurrence made. */
const ADVANCE_SCHEDULE = `
  UPDATE schedules SET next_run_at = $2, last_run_at = coalesce($3, last_run_at), last_task_id = coalesce($4, last_task_id), updated_at = now()
  WHERE id = $1`;

export async function advanceSchedule(client: PoolClient, id: string, nextRunAt: Date | null, lastRunAt: Date | null, lastTaskId: string | null): Promise<void> {
  await client.query({ name: 'advance-schedule', text: ADVANCE_SCHEDULE, values: [id, nextRunAt, lastRunAt, lastTaskId] });
}

/* Milliseconds until the earliest active schedule is due, on the database's clock; null when none is. */
const NEXT_SCHEDULE_IN_MS = `
  SELECT (extract(epoch FROM (next_run_at - now())) * 1000)::float8 AS due_in_ms
  FROM schedules WHERE NOT paused AND next_run_at IS NOT NULL
  ORDER BY next_run_at LIMIT 1`;

export async function nextScheduleInMs(pool: Pool): Promise<number | null> {
  const { rows } = await pool.query<{ due_in_ms: number }>({ name: 'next-schedule-in-ms', text: NEXT_SCHEDULE_IN_MS });
  return rows.length > 0 ? rows[0].due_in_ms : null;
}
