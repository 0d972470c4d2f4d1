import { saveSchedule, type NewSchedule } from '../../common/src/db/schedules';
import type { Pool } from '../../common/src/db/pool';
import type { ScheduleDeclaration } from '../../common/src/grpc/contract';
import type { Logger } from '../../common/src/logger';
import { CATCH_UP, OVERLAP, cronProblem, timezoneProblem, type CatchUp, type Overlap } from '../../sdk/src/schedule-fields';
import { NAME_PATTERN } from '../../sdk/src/task-fields';
import { unstorableJsonProblem } from '../../common/src/storable-json';

/** The schedules a worker's heartbeat declares, at most: a task type declares one. */
export const MAX_DECLARED = 1000;

/** Why a declared schedule cannot be saved, as "field message", or undefined; checked before any state changes. */
export function declarationProblem(declaration: ScheduleDeclaration): string | undefined {
  const { name, cron, timezone, payload, queue, overlap, catch_up } = declaration;
  if (!NAME_PATTERN.test(name)) return `name "${name.slice(0, 140)}" is not a task name (${NAME_PATTERN.source})`;
  const bad = cronProblem(cron);
  if (bad) return `cron ${bad}`;
  const zone = timezone === '' ? undefined : timezoneProblem(timezone);
  if (zone) return `timezone ${zone}`;
  if (queue !== '' && !NAME_PATTERN.test(queue)) return `queue "${queue.slice(0, 140)}" is not a queue name`;
  if (overlap !== '' && !(OVERLAP as readonly string[]).includes(overlap)) return `overlap must be ${OVERLAP.join(' or ')}`;
  if (catch_up !== '' && !(CATCH_UP as readonly string[]).includes(catch_up)) return `catch_up must be ${CATCH_UP.join(', ')}`;
  if (payload !== '') {
    try {
      JSON.parse(payload);
    } catch {
      return 'payload must be JSON text';
    }
    // JSON that jsonb refuses (a NUL or unpaired surrogate escape, deeper than 1,000 levels) would fail the insert.
    const unstorable = unstorableJsonProblem(payload);
    if (unstorable) return `payload ${unstorable}`;
  }
  return undefined;
}

function toSchedule(declaration: ScheduleDeclaration): NewSchedule {
  return {
    key: `task:${declaration.name}`,
    name: declaration.name,
    cron: declaration.cron,
    timezone: declaration.timezone || 'UTC',
    payload: declaration.payload === '' ? undefined : JSON.parse(declaration.payload),
    queue: declaration.queue || undefined,
    overlap: (declaration.overlap || undefined) as Overlap | undefined,
    catchUp: (declaration.catch_up || undefined) as CatchUp | undefined,
  };
}

/**
 * Saves what a joining worker's task types declare (defineTask({ cron })), keyed "task:<name>": the same
 * declaration from every worker of that type changes nothing, and a changed one updates the schedule.
 */
export async function saveDeclaredSchedules(pool: Pool, declarations: readonly ScheduleDeclaration[], logger: Logger): Promise<void> {
  for (const declaration of declarations) {
    const saved = await saveSchedule(pool, toSchedule(declaration), 'worker');
    if (saved.created) logger.info({ schedule: saved.key, cron: saved.cron, timezone: saved.timezone }, 'schedule declared by a worker');
  }
}
