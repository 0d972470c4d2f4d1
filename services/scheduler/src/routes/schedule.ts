import { Router } from 'express';
import type { Pool } from '../../../common/src/db/pool';
import { insertTasks } from '../../../common/src/db/insert-tasks';
import type { BatchScheduleResponse, ScheduleResponse } from '../api-types';
import { parseBatchRequest, parseScheduleRequest } from '../validation';

const epochSeconds = (date: Date) => Math.floor(date.getTime() / 1000);

/** POST /schedule (original path), /api/schedule and /api/schedule/batch. */
export function scheduleRoutes(pool: Pool): { api: Router; legacy: Router } {
  const api = Router();

  const scheduleOne = async (req: import('express').Request, res: import('express').Response) => {
    const task = parseScheduleRequest(req.body);
    const [row] = await insertTasks(pool, [task]);
    // At debug, like the access log (http.ts): a line per task costs more than the task; its 'scheduled'
    // event records it either way.
    req.log.debug({ task_id: row.id, command: row.command, scheduled_at: row.scheduled_at, inserted: row.inserted }, 'task scheduled');
    res.status(row.inserted ? 201 : 200).json({
      command: row.command,
      scheduled_at: epochSeconds(row.scheduled_at),
      task_id: row.id,
    } satisfies ScheduleResponse);
  };

  api.post('/schedule', scheduleOne);
  api.post('/schedule/batch', async (req, res) => {
    const tasks = parseBatchRequest(req.body);
    const rows = await insertTasks(pool, tasks);
    req.log.info({ count: rows.length, command: tasks[0].command }, 'batch scheduled');
    res.status(201).json({
      command: tasks[0].command,
      count: rows.length,
      scheduled_at: epochSeconds(tasks[0].scheduledAt),
      task_ids: rows.map((row) => row.id),
    } satisfies BatchScheduleResponse);
  });

  const legacy = Router();
  legacy.post('/schedule', scheduleOne);
  return { api, legacy };
}
