import { nextRuns, type CatchUp, type Overlap } from '../../../sdk/src/schedule-fields';
import type { z } from 'zod';
import type { CronScheduleRequest } from '../../../sdk/src/http/schemas';
import { ConflictError } from '../errors';
import { managedByTaskScheduleMessage } from '../task-schedule-key';
import type { Pool } from './pool';

/** A schedule to create or, with a key, to create or update (migration 0015). Checked by the caller. */
export interface NewSchedule {
  key?: string;
  name: string;
  cron: string;
  timezone: string;
  payload?: unknown;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeoutSeconds?: number;
  overlap?: Overlap;
  catchUp?: CatchUp;
  paused?: boolean;
}

/** A POST /api/schedules body, as the API's schema output it, as a schedule to save. */
export function toNewSchedule(body: z.output<typeof CronScheduleRequest>): NewSchedule {
  return {
    key: body.key,
    name: body.name,
    cron: body.cron,
    timezone: body.timezone ?? 'UTC',
    payload: body.payload,
    queue: body.queue,
    priority: body.priority,
    maxAttempts: body.max_attempts,
    timeoutSeconds: body.timeout_seconds,
    overlap: body.overlap,
    catchUp: body.catch_up,
    paused: body.paused,
  };
}

/** Who made it: the API, a worker's task type, SCHEDULES, or a TaskSchedule resource (which alone may change it). */
export type ScheduleSource = 'api' | 'worker' | 'config' | 'kubernetes';

/** A schedules row as the services read it. */
export interface ScheduleRow {
  id: string;
  key: string | null;
  name: string;
  /** JSONB, parsed by pg. */
  payload: unknown;
  queue: string;
  priority: number;
  max_attempts: number;
  timeout_seconds: number | null;
  cron: string;
  timezone: string;
  overlap: Overlap;
  catch_up: CatchUp;
  paused: boolean;
  next_run_at: Date | null;
  last_run_at: Date | null;
  last_task_id: string | null;
  source: ScheduleSource;
  created_at: Date;
  updated_at: Date;
}

export const SCHEDULE_COLUMNS = `id, key, name, payload, queue, priority, max_attempts, timeout_seconds, cron, timezone, overlap,
  catch_up, paused, next_run_at, last_run_at, last_task_id, source, created_at, updated_at`;

/*
 * Creates a schedule or, when its key exists, updates it in place, in one statement ($1-$14 the fields, $15 the
 * first occurrence after now). An update keeps next_run_at unless the pattern or the zone changed, so
 * declaring the same schedule again (every worker that runs the task type does, at each start) neither skips
 * nor repeats an occurrence; it keeps an operator's pause too, unless the request says paused. A key held by a
 * TaskSchedule's schedule is updated only by its reconciler, and a reconciler updates no other source's row:
 * then nothing is returned. RETURNING says whether the row was new (xmax = 0).
 */
const SAVE_SCHEDULE = `
  INSERT INTO schedules AS s (key, name, payload, queue, priority, max_attempts, timeout_seconds, cron, timezone, overlap,
                              catch_up, paused, source, next_run_at)
  VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9, $10, $11, coalesce($12, false), $13, $14)
  ON CONFLICT (key) DO UPDATE SET
    name = EXCLUDED.name, payload = EXCLUDED.payload, queue = EXCLUDED.queue, priority = EXCLUDED.priority,
    max_attempts = EXCLUDED.max_attempts, timeout_seconds = EXCLUDED.timeout_seconds, overlap = EXCLUDED.overlap,
    catch_up = EXCLUDED.catch_up, source = EXCLUDED.source, paused = coalesce($12, s.paused),
    next_run_at = CASE WHEN (s.cron, s.timezone) IS DISTINCT FROM (EXCLUDED.cron, EXCLUDED.timezone) THEN EXCLUDED.next_run_at
                       ELSE s.next_run_at END,
    cron = EXCLUDED.cron, timezone = EXCLUDED.timezone, updated_at = now()
  WHERE (s.source = 'kubernetes') = (EXCLUDED.source = 'kubernetes')
  RETURNING ${SCHEDULE_COLUMNS}, (xmax = 0) AS created`;

/**
 * The columns a schedule is saved with (all but key, paused and the bookkeeping), defaults applied: the
 * TaskSchedule reconciler compares them with the row to write only a change.
 */
export function scheduleColumns(schedule: NewSchedule): Pick<ScheduleRow,
  'name' | 'payload' | 'queue' | 'priority' | 'max_attempts' | 'timeout_seconds' | 'cron' | 'timezone' | 'overlap' | 'catch_up'> {
  return {
    name: schedule.name,
    payload: schedule.payload ?? null,
    queue: schedule.queue ?? 'default',
    priority: schedule.priority ?? 0,
    max_attempts: schedule.maxAttempts ?? 3,
    timeout_seconds: schedule.timeoutSeconds ?? null,
    cron: schedule.cron,
    timezone: schedule.timezone,
    overlap: schedule.overlap ?? 'allow',
    catch_up: schedule.catchUp ?? 'last',
  };
}

/**
 * Saves a schedule (created, or updated by key); `created` is false for an update. A ConflictError when the
 * key belongs to a schedule of the other side of the TaskSchedule line (see SAVE_SCHEDULE).
 */
export async function saveSchedule(pool: Pool, schedule: NewSchedule, source: ScheduleSource): Promise<ScheduleRow & { created: boolean }> {
  const [first] = nextRuns(schedule.cron, schedule.timezone, new Date(), 1);
  const c = scheduleColumns(schedule);
  const { rows } = await pool.query<ScheduleRow & { created: boolean }>({
    name: 'save-schedule',
    text: SAVE_SCHEDULE,
    values: [
      schedule.key ?? null, c.name, c.payload === null ? null : JSON.stringify(c.payload), c.queue, c.priority, c.max_attempts, c.timeout_seconds,
      c.cron, c.timezone, c.overlap, c.catch_up, schedule.paused ?? null, source, first ?? null,
    ],
  });
  if (rows.length === 0) {
    throw new ConflictError(source === 'kubernetes'
      ? `schedule key ${schedule.key} is taken by a schedule no TaskSchedule made; delete that schedule or rename the resource`
      : managedByTaskScheduleMessage(schedule.key ?? null));
  }
  return rows[0];
}
