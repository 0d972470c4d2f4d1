import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { waitFor } from '../helpers/wait';

let db: TestDatabase;
let cluster: Cluster;

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 0 });
});
afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

async function statuses(ids: string[]): Promise<string[]> {
  const { rows } = await db.pool.query('SELECT status FROM tasks WHERE id = ANY($1)', [ids]);
  return rows.map((row) => row.status);
}

test('SIGTERM: the worker takes no more work, finishes what it holds, reports it, and leaves', async () => {
  const worker = await cluster.addWorker({ TASK_PROCESS_TIME: '1500ms', WORKER_POOL_SIZE: '3' });
  const tasks = await insertTasks(db.pool, Array.from({ length: 3 }, () => ({ command: 'demo-job', scheduledAt: new Date() })));
  const ids = tasks.map((t) => t.id);
  await waitFor(async () => (await statuses(ids)).every((s) => s === 'running'), 10_000, 'the tasks to run');
  const stopping = worker.stop('SIGTERM', 20_000);
  // Work that arrives while it drains goes elsewhere: here, nowhere, so it stays pending.
  const [late] = await insertTasks(db.pool, [{ command: 'demo-job', scheduledAt: new Date() }]);
  expect(await stopping).toBe(0);
  expect(await statuses(ids)).toEqual(['succeeded', 'succeeded', 'succeeded']);
  expect(await statuses([late.id])).toEqual(['pending']);
  const { rows } = await db.pool.query("SELECT type FROM events WHERE type IN ('worker_joined', 'worker_left') ORDER BY id");
  expect(rows.map((r) => r.type)).toEqual(['worker_joined', 'worker_left']);
  await db.pool.query('DELETE FROM tasks WHERE id = $1', [late.id]);
});

test('SIGTERM with work that outlasts the drain timeout: what is unfinished is handed back at once', async () => {
  const worker = await cluster.addWorker({ TASK_PROCESS_TIME: '60s', WORKER_DRAIN_TIMEOUT: '500ms' });
  const [task] = await insertTasks(db.pool, [{ command: 'demo-job', scheduledAt: new Date() }]);
  await waitFor(async () => (await statuses([task.id]))[0] === 'running', 10_000, 'the task to run');
  expect(await worker.stop('SIGTERM', 20_000)).toBe(0);
  // Handed back on leaving, not after a lease expiry or eviction.
  const { rows } = await db.pool.query('SELECT status, attempt FROM tasks WHERE id = $1', [task.id]);
  expect(rows[0]).toEqual({ status: 'pending', attempt: 1 });
  const { rows: events } = await db.pool.query('SELECT type FROM events WHERE task_id = $1 ORDER BY id', [task.id]);
  expect(events.map((e) => e.type)).toEqual(['scheduled', 'assigned', 'started', 'reassigned']);
  // Another worker picks it up.
  await cluster.addWorker({ TASK_PROCESS_TIME: '10ms' });
  await waitFor(async () => (await statuses([task.id]))[0] === 'succeeded', 10_000, 'another worker to finish it');
});
