import { Router } from 'express';
import { saveSchedule, type ScheduleRow } from '../../../common/src/db/schedules';
import type { Pool } from '../../../common/src/db/pool';
import { ConflictError, NotFoundError } from '../../../common/src/errors';
import { managedByTaskScheduleMessage } from '../../../common/src/task-schedule-key';
import { nextRuns } from '../../../sdk/src/schedule-fields';
import type { CronScheduleList, CronScheduleView } from '../api-types';
import { deleteSchedule, getSchedule, listSchedules, setPaused } from '../db/schedules';
import { parseCronScheduleRequest, parseTaskId, type RequestLimits } from '../validation';
import { scheduleView } from '../views';

const NEXT_RUNS_SHOWN = 5;

/** Recurring schedules: /api/schedules[/:id[/pause|/resume]] (docs/schedules.md). */
export function cronScheduleRoutes(pool: Pool, limits: RequestLimits): Router {
  const router = Router();

  const find = async (id: string) => {
    const row = await getSchedule(pool, id);
    if (!row) throw new NotFoundError(`schedule ${id} does not exist`, 'id');
    return row;
  };
  // A TaskSchedule's schedule changes only with its resource (its reconciler would undo an API change anyway).
  const findChangeable = async (id: string) => refuseManaged(await find(id));

  router.post('/schedules', async (req, res) => {
    const schedule = parseCronScheduleRequest(req.body, limits);
    const saved = await saveSchedule(pool, schedule, 'api');
    req.log.info({ schedule_id: saved.id, key: saved.key, cron: saved.cron, created: saved.created }, saved.created ? 'schedule created' : 'schedule updated');
    res.status(saved.created ? 201 : 200).json(scheduleView(saved) satisfies CronScheduleView);
  });

  router.get('/schedules', async (_req, res) => {
    res.json({ schedules: (await listSchedules(pool)).map((row) => scheduleView(row)) } satisfies CronScheduleList);
  });

  router.get('/schedules/:id', async (req, res) => {
    const row = await find(parseTaskId(req.params.id, 'id'));
    res.json(scheduleView(row, nextRuns(row.cron, row.timezone, new Date(), NEXT_RUNS_SHOWN)) satisfies CronScheduleView);
  });

  for (const action of ['pause', 'resume'] as const) {
    router.post(`/schedules/:id/${action}`, async (req, res) => {
      const id = parseTaskId(req.params.id, 'id');
      const current = await findChangeable(id);
      const [next = null] = nextRuns(current.cron, current.timezone, new Date(), 1);
      const row = await setPaused(pool, id, action === 'pause', next);
      if (!row) throw new NotFoundError(`schedule ${id} does not exist`, 'id');
      req.log.info({ schedule_id: id }, `schedule ${action}d`);
      res.json(scheduleView(row) satisfies CronScheduleView);
    });
  }

  router.delete('/schedules/:id', async (req, res) => {
    const id = parseTaskId(req.params.id, 'id');
    await findChangeable(id);
    if (!(await deleteSchedule(pool, id))) throw new NotFoundError(`schedule ${id} does not exist`, 'id');
    req.log.info({ schedule_id: id }, 'schedule deleted');
    res.status(204).end();
  });

  return router;
}

/** The row, unless a TaskSchedule resource owns it: then a 409 naming the resource. */
function refuseManaged(row: ScheduleRow): ScheduleRow {
  if (row.source === 'kubernetes') throw new ConflictError(managedByTaskScheduleMessage(row.key));
  return row;
}
