import { Router } from 'express';
import {
  getConcurrencyLimit, getQueue, listConcurrencyLimits, listQueues, releaseQueue, removeConcurrencyLimit, setConcurrencyLimit,
  setQueueControls,
} from '../../../common/src/db/queue-controls';
import type { Pool } from '../../../common/src/db/pool';
import { NotFoundError } from '../../../common/src/errors';
import type { ConcurrencyLimitList, ConcurrencyLimitView, QueueList, QueueView } from '../api-types';
import { limitView, queueView } from '../views';
import { recordOperatorAction } from '../audit';
import { parseConcurrencyLimit, parseControlledQueue, parseQueueControls, parseTaskName } from '../validation';

/**
 * Queue controls and concurrency limits (docs/queues.md): /api/queues[/:name[/pause|/resume]] and
 * /api/concurrency-limits[/:name]. The claim keeps to them (migration 0017).
 */
export function queueRoutes(pool: Pool): Router {
  const router = Router();

  router.get('/queues', async (_req, res) => {
    res.json({ queues: (await listQueues(pool)).map(queueView) } satisfies QueueList);
  });

  router.get('/queues/:name', async (req, res) => {
    const name = parseControlledQueue(req.params.name);
    const row = await getQueue(pool, name);
    if (!row) throw new NotFoundError(`queue ${name} has no controls`, 'name');
    res.json(queueView(row) satisfies QueueView);
  });

  router.put('/queues/:name', async (req, res) => {
    const name = parseControlledQueue(req.params.name);
    const controls = parseQueueControls(req.body);
    const row = await setQueueControls(pool, name, controls);
    req.log.info({ queue: name, paused: row.paused, max_running: row.max_running, max_per_second: row.max_per_second }, 'queue controls set');
    await recordOperatorAction(pool, req, `queue ${name} set to ${row.paused ? 'paused' : 'active'}, max running ${row.max_running ?? 'none'}, max per second ${row.max_per_second ?? 'none'}`);
    res.json(queueView(row) satisfies QueueView);
  });

  for (const action of ['pause', 'resume'] as const) {
    router.post(`/queues/:name/${action}`, async (req, res) => {
      const name = parseControlledQueue(req.params.name);
      // Resuming a queue without controls has nothing to resume: 404 rather than gating its backlog for nothing.
      if (action === 'resume' && !(await getQueue(pool, name))) throw new NotFoundError(`queue ${name} has no controls`, 'name');
      const row = await setQueueControls(pool, name, { paused: action === 'pause' });
      req.log.info({ queue: name }, `queue ${action}d`);
      await recordOperatorAction(pool, req, `queue ${name} ${action}d`);
      res.json(queueView(row) satisfies QueueView);
    });
  }

  router.delete('/queues/:name', async (req, res) => {
    const name = parseControlledQueue(req.params.name);
    if (!(await releaseQueue(pool, name))) throw new NotFoundError(`queue ${name} has no controls`, 'name');
    req.log.info({ queue: name }, 'queue controls removed');
    await recordOperatorAction(pool, req, `queue ${name}: controls removed`);
    res.status(204).end();
  });

  router.get('/concurrency-limits', async (_req, res) => {
    res.json({ limits: (await listConcurrencyLimits(pool)).map(limitView) } satisfies ConcurrencyLimitList);
  });

  router.get('/concurrency-limits/:name', async (req, res) => {
    const name = parseTaskName(req.params.name);
    const row = await getConcurrencyLimit(pool, name);
    if (!row) throw new NotFoundError(`task ${name} has no concurrency limit`, 'name');
    res.json(limitView(row) satisfies ConcurrencyLimitView);
  });

  router.put('/concurrency-limits/:name', async (req, res) => {
    const name = parseTaskName(req.params.name);
    const limit = parseConcurrencyLimit(req.body);
    const { row, created } = await setConcurrencyLimit(pool, name, limit, 'api');
    req.log.info({ task_name: name, key: row.key_field, max_running: row.max_running }, created ? 'concurrency limit set' : 'concurrency limit changed');
    await recordOperatorAction(pool, req, `${name} limited to ${row.max_running} in flight per ${row.key_field}`);
    res.status(created ? 201 : 200).json(limitView(row) satisfies ConcurrencyLimitView);
  });

  router.delete('/concurrency-limits/:name', async (req, res) => {
    const name = parseTaskName(req.params.name);
    if (!(await removeConcurrencyLimit(pool, name))) throw new NotFoundError(`task ${name} has no concurrency limit`, 'name');
    req.log.info({ task_name: name }, 'concurrency limit removed');
    await recordOperatorAction(pool, req, `${name}: concurrency limit removed`);
    res.status(204).end();
  });

  return router;
}
