import { createLogger } from '../../services/common/src/logger';
import { TaskMasterClient } from '../../services/sdk/src/client';
import { defineTask } from '../../services/sdk/src/define-task';
import { startWorker } from '../../services/sdk/src/worker/start-worker';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * Bulk actions by filter (POST /api/tasks/bulk, the SDK's bulk), against the real scheduler app, coordinator and
 * PostgreSQL: each action keeps to the states it applies to, counts what it changed, works in chunks, and a
 * cancel stops held attempts on their worker.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
let client: TaskMasterClient;
useSchedulerApp({}, (running) => {
  ({ db, app } = running);
  client = new TaskMasterClient({ url: app.url });
});

const statuses = async (name: string) => {
  const { rows } = await db.pool.query('SELECT status, count(*)::int AS n FROM tasks WHERE name = $1 GROUP BY status', [name]);
  return Object.fromEntries(rows.map((row: { status: string; n: number }) => [row.status, row.n]));
};

test('cancel by name, in chunks, with progress; then retry them and delete them by filter', async () => {
  await client.enqueueMany('bulk-later', Array.from({ length: 25 }, (_, i) => ({ i })), { delay: 3_600_000 });
  await client.enqueueMany('bulk-other', [1, 2], { delay: 3_600_000 });
  expect(await client.bulkCount('cancel', { name: 'bulk-later' })).toBe(25);
  const progress: number[] = [];
  const cancelled = await client.bulk('cancel', { name: 'bulk-later' }, { reason: 'release withdrawn', chunk: 10, onProgress: (n) => progress.push(n) });
  expect(cancelled).toBe(25);
  expect(progress).toEqual([10, 20, 25]);
  expect(await statuses('bulk-later')).toEqual({ cancelled: 25 });
  expect(await statuses('bulk-other')).toEqual({ pending: 2 });
  const { rows } = await db.pool.query("SELECT DISTINCT last_error FROM tasks WHERE name = 'bulk-later'");
  expect(rows).toEqual([{ last_error: 'release withdrawn' }]);

  // Retry those whose reason matches, any case; delete them and their events once cancelled again.
  expect(await client.bulk('retry', { name: 'bulk-later', error: 'WITHDRAWN' })).toBe(25);
  expect(await statuses('bulk-later')).toEqual({ pending: 25 });
  // delete applies to finished tasks only: none of these is.
  expect(await client.bulk('delete', { name: 'bulk-later' })).toBe(0);
  await client.bulk('cancel', { name: 'bulk-later' });
  expect(await client.bulk('delete', { name: 'bulk-later', status: ['cancelled'] })).toBe(25);
  expect(await statuses('bulk-later')).toEqual({});
  const events = await db.pool.query("SELECT count(*)::int AS n FROM events WHERE command = 'bulk-later'");
  expect(events.rows[0].n).toBe(0);
});

test('a bulk cancel stops running attempts on their worker, and filters by creation time', async () => {
  const started: string[] = [];
  const aborted: string[] = [];
  const hangs = defineTask({
    name: 'bulk-hangs',
    run: async (_payload: unknown, ctx) => {
      started.push(ctx.taskId);
      await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      aborted.push(ctx.taskId);
    },
  });
  const worker = await startWorker({ coordinator: app.coordinatorAddress, tasks: [hangs], slots: 5, heartbeatIntervalMs: 5000, logger: createLogger('test', 'silent') });
  try {
    const before = new Date(Date.now() - 1000).toISOString();
    await client.enqueueMany(hangs, [1, 2, 3]);
    await waitFor(() => started.length === 3, 5000, 'three running tasks');
    const answer = await request(`${app.url}/api/tasks/bulk`, { body: { action: 'cancel', filter: { name: 'bulk-hangs', created_after: before, status: ['running', 'dispatched'] } } });
    expect(answer.body).toEqual({ action: 'cancel', affected: 3, more: false });
    await waitFor(() => aborted.length === 3, 2000, 'the handlers to see the cancel');
    expect(await statuses('bulk-hangs')).toEqual({ cancelled: 3 });
  } finally {
    await worker.stop();
  }
});

test('bad input is a 400 naming the field; an empty filter is refused rather than acting on everything', async () => {
  const cases: Array<[unknown, string]> = [
    [{ action: 'purge', filter: { name: 'x' } }, 'action'],
    [{ action: 'delete', filter: {} }, 'filter'],
    [{ action: 'delete' }, 'filter'],
    [{ action: 'retry', filter: { status: ['sleeping'] } }, 'filter.status[0]'],
    [{ action: 'retry', filter: { created_after: 'yesterday' } }, 'filter.created_after'],
    [{ action: 'retry', filter: { ids: ['not-a-uuid'] } }, 'filter.ids[0]'],
    [{ action: 'retry', filter: { name: 'x' }, limit: 0 }, 'limit'],
  ];
  for (const [body, field] of cases) {
    const answer = await request(`${app.url}/api/tasks/bulk`, { body });
    expect(answer.status).toBe(400);
    expect(answer.body.error.field).toBe(field);
  }
});
