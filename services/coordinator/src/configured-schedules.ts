import type { Pool } from '../../common/src/db/pool';
import { saveSchedule, toNewSchedule, type NewSchedule } from '../../common/src/db/schedules';
import { ConfigError, ValidationError } from '../../common/src/errors';
import { parseWith } from '../../common/src/validation';
import type { Logger } from '../../common/src/logger';

/**
 * SCHEDULES (the chart's `schedules`): a JSON array of POST /api/schedules bodies, each with a key, checked
 * with the API's own schema. The schema module (and zod) is loaded only when there is something to check:
 * the coordinator does not otherwise need it.
 */
export function parseConfiguredSchedules(json: string | undefined): NewSchedule[] {
  if (json === undefined || json.trim() === '') return [];
  let entries: unknown;
  try {
    entries = JSON.parse(json);
  } catch (err) {
    throw new ConfigError([`SCHEDULES must be a JSON array of schedules: ${(err as Error).message}`]);
  }
  if (!Array.isArray(entries)) throw new ConfigError(['SCHEDULES must be a JSON array of schedules']);
  if (entries.length === 0) return [];
  // Loaded here, not at the top: a require, since this CommonJS build keeps import() as a native ES import.
  const { CronScheduleRequest } = require('../../sdk/src/http/schemas') as typeof import('../../sdk/src/http/schemas');
  const problems: string[] = [];
  const schedules = entries.flatMap((entry, i) => {
    try {
      const body = parseWith(CronScheduleRequest, entry, 'entry');
      if (body.key === undefined) problems.push(`SCHEDULES[${i}].key is required: it names the schedule, so a change updates it in place`);
      return [toNewSchedule(body)];
    } catch (err) {
      if (!(err instanceof ValidationError)) throw err;
      problems.push(`SCHEDULES[${i}].${err.message}`);
      return [];
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return schedules;
}

/**
 * Saves the configured schedules by key: a changed entry updates its schedule, an unchanged one changes nothing
 * (every coordinator does this at start). An entry removed from the list is left alone; the API deletes it.
 */
export async function saveConfiguredSchedules(pool: Pool, schedules: readonly NewSchedule[], logger: Logger): Promise<void> {
  for (const schedule of schedules) await saveSchedule(pool, schedule, 'config');
  if (schedules.length > 0) logger.info({ schedules: schedules.map((s) => s.key) }, 'schedules from SCHEDULES saved');
}
