import { createTestDatabase, waitForSucceeded, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { request } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

// Real processes: a coordinator, a scheduler and 3 workers, talking gRPC and HTTP over loopback.
let db: TestDatabase;
let cluster: Cluster;

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 3, scheduler: true });
});
afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

test('200 tasks scheduled over HTTP, some due now and some in 2 s, each complete exactly once and none early', async () => {
  const now = await request(`${cluster.schedulerUrl}/api/schedule/batch`, { body: { command: 'demo-job', count: 100 } });
  const later = await request(`${cluster.schedulerUrl}/api/schedule/batch`, { body: { command: 'demo-job', count: 60, delay_seconds: 2 } });
  const singles = await Promise.all(Array.from({ length: 40 }, (_, i) => request(`${cluster.schedulerUrl}/schedule`, {
    body: { command: `single-${i}`, scheduled_at: new Date(Date.now() + (i % 2) * 2000).toISOString() },
  })));
  const ids = [...now.body.task_ids, ...later.body.task_ids, ...singles.map((s) => s.body.task_id)];
  expect(new Set(ids).size).toBe(200);

  await waitForSucceeded(db, 200, 60_000);

  // A task may be handed to its worker up to DISPATCH_LOOKAHEAD (250 ms) before it is due, never started early.
  const { rows: early } = await db.pool.query(
    "SELECT id FROM tasks WHERE started_at < scheduled_at OR picked_at < scheduled_at - interval '250 milliseconds'",
  );
  expect(early).toEqual([]);
  const { rows: completions } = await db.pool.query(
    "SELECT task_id, count(*)::int AS n FROM events WHERE type = 'completed' GROUP BY task_id",
  );
  expect(completions).toHaveLength(200);
  expect(completions.every((row) => row.n === 1)).toBe(true);

  // The original contract's keys are present once set, and the worker that ran it is recorded.
  const status = await request(`${cluster.schedulerUrl}/status?task_id=${later.body.task_ids[0]}`);
  expect(status.body).toMatchObject({ status: 'succeeded', attempt: 1, worker_id: expect.any(Number) });
  for (const key of ['picked_at', 'started_at', 'completed_at']) expect(status.body).toHaveProperty(key);
  expect(Date.parse(status.body.started_at)).toBeGreaterThanOrEqual(Date.parse(status.body.scheduled_at));

  // Work spread over the three workers (round-robin among free slots).
  const { rows: perWorker } = await db.pool.query('SELECT worker_id, count(*)::int AS n FROM tasks GROUP BY worker_id');
  expect(perWorker).toHaveLength(3);

  const stats = await request(`${cluster.schedulerUrl}/api/stats`);
  expect(stats.body).toMatchObject({ completed: 200, pending: 0, running: 0, workers: 3, slots_total: 15 });
});

test('a failing task is retried with backoff and ends failed after max_attempts, with its error', async () => {
  const one = await request(`${cluster.schedulerUrl}/api/schedule`, {
    body: { command: 'fail disk full', scheduled_at: new Date().toISOString(), max_attempts: 3 },
  });
  const id = one.body.task_id;
  await waitFor(async () => (await request(`${cluster.schedulerUrl}/api/status?task_id=${id}`)).body.status === 'failed', 30_000, 'the task to fail for good');
  const status = await request(`${cluster.schedulerUrl}/api/status?task_id=${id}`);
  expect(status.body).toMatchObject({ status: 'failed', attempt: 3, last_error: 'disk full' });
  const timeline = await request(`${cluster.schedulerUrl}/api/tasks/${id}/events`);
  expect(timeline.body.events.map((e: { type: string }) => e.type)).toEqual([
    'scheduled', 'assigned', 'started', 'retried', 'assigned', 'started', 'retried', 'assigned', 'started', 'failed',
  ]);
  expect(timeline.body.events.filter((e: { type: string }) => e.type === 'assigned').map((e: { attempt: number }) => e.attempt)).toEqual([1, 2, 3]);
});
