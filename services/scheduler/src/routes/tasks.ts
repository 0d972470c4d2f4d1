import { Router, type Request, type Response } from 'express';
import { pendingNames } from '../../../common/src/db/measure-queue';
import type { RetentionConfig } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import { ConflictError, NotFoundError } from '../../../common/src/errors';
import type { BulkResponse, StatsView, TaskEvents, TaskPage } from '../api-types';
import { recordOperatorAction } from '../audit';
import { bulkAct, countBulk } from '../db/bulk';
import { slotTotals, type CoordinatorView } from '../coordinator-view';
import { readTaskEvents } from '../db/events';
import { cancelTask, countTasksByStatus, getTask, listTasks, retryTask, type TaskRow } from '../db/tasks';
import { observeCancelled } from '../metrics';
import { encodeCursor, parseBulkRequest, parseCancelRequest, parseListQuery, parseTaskId } from '../validation';
import { attemptsOf, eventView, taskView } from '../views';

/** Task reads and controls: /status (original), /api/status, /api/tasks, /api/tasks/:id[/events|/cancel|/retry], /api/stats. */
export function taskRoutes(pool: Pool, coordinator: CoordinatorView, retention?: RetentionConfig): { api: Router; legacy: Router } {
  const api = Router();

  /** The task, or a 404 naming `field`, the parameter that carried its id. */
  const findTask = async (id: string, field: string): Promise<TaskRow> => {
    const row = await getTask(pool, id);
    if (!row) throw new NotFoundError(`task ${id} does not exist`, field);
    return row;
  };

  const status = async (req: Request, res: Response) => {
    res.json(taskView(await findTask(parseTaskId(req.query.task_id), 'task_id')));
  };
  api.get('/status', status);

  api.get('/tasks', async (req, res) => {
    const query = parseListQuery(req.query as Record<string, unknown>);
    const rows = await listTasks(pool, query);
    const last = rows.at(-1);
    res.json({
      tasks: rows.map(taskView),
      next_cursor: rows.length === query.limit && last ? encodeCursor({ scheduledAt: last.scheduled_at, id: last.id }) : null,
    } satisfies TaskPage);
  });

  api.get('/tasks/:id', async (req, res) => {
    res.json(taskView(await findTask(parseTaskId(req.params.id, 'id'), 'id')));
  });

  api.get('/tasks/:id/events', async (req, res) => {
    const id = parseTaskId(req.params.id, 'id');
    const row = await findTask(id, 'id');
    const events = await readTaskEvents(pool, id);
    res.json({ task: taskView(row), events: events.map(eventView), attempts: attemptsOf(events) } satisfies TaskEvents);
  });

  const control = (action: 'cancel' | 'retry', apply: (id: string, req: Request) => Promise<TaskRow | undefined>, allowed: string) =>
    async (req: Request, res: Response) => {
      const id = parseTaskId(req.params.id, 'id');
      const updated = await apply(id, req);
      if (!updated) {
        const row = await findTask(id, 'id');
        throw new ConflictError(`task ${id} is ${row.status}; only ${allowed} tasks can be ${action === 'cancel' ? 'cancelled' : 'retried'}`);
      }
      req.log.info({ task_id: id, action }, `task ${action}`);
      await recordOperatorAction(pool, req, `task ${id} ${action === 'cancel' ? 'cancelled' : 'retried'}`);
      if (action === 'cancel') observeCancelled();
      res.json(taskView(updated));
    };
  api.post('/tasks/:id/cancel', control('cancel', (id, req) => cancelTask(pool, id, parseCancelRequest(req.body).reason), 'pending, dispatched or running'));
  api.post('/tasks/:id/retry', control('retry', (id) => retryTask(pool, id), 'failed or cancelled'));

  api.post('/tasks/bulk', async (req, res) => {
    const { action, filter, limit, reason, dryRun } = parseBulkRequest(req.body);
    if (dryRun) {
      res.json({ action, affected: 0, more: false, matched: await countBulk(pool, action, filter) } satisfies BulkResponse);
      return;
    }
    const affected = await bulkAct(pool, action, filter, limit, reason);
    req.log.info({ action, affected, filter }, 'bulk action');
    if (affected > 0) await recordOperatorAction(pool, req, `bulk ${action} of ${affected} task(s)`);
    if (action === 'cancel') observeCancelled(affected);
    res.json({ action, affected, more: affected === limit } satisfies BulkResponse);
  });

  api.get('/stats', async (_req, res) => {
    const [counts, workers, waiting] = await Promise.all([countTasksByStatus(pool), coordinator.listWorkers(), pendingNames(pool)]);
    const alive = workers ?? [];
    const handled = new Set(alive.flatMap((worker) => worker.handles));
    const slots = slotTotals(alive);
    res.json({
      pending: counts.pending,
      dispatched: counts.dispatched,
      running: counts.running,
      completed: counts.succeeded,
      failed: counts.failed,
      cancelled: counts.cancelled,
      total: Object.values(counts).reduce((sum, n) => sum + n, 0),
      workers: alive.length,
      slots_total: slots.total,
      slots_busy: slots.busy,
      coordinator_reachable: workers !== null,
      // Unknown while no coordinator answers: then nothing is flagged.
      unhandled: workers === null ? [] : waiting.filter((entry) => !handled.has(entry.name)),
      ...(retention && {
        retention: {
          succeeded_seconds: retention.succeededMs / 1000,
          failed_seconds: retention.failedMs / 1000,
          cancelled_seconds: retention.cancelledMs / 1000,
          events_seconds: retention.eventsMs / 1000,
        },
      }),
    } satisfies StatsView);
  });

  const legacy = Router();
  legacy.get('/status', status);
  return { api, legacy };
}
