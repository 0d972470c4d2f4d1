import { createTestDatabase, waitForSucceeded, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { request } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

let db: TestDatabase;
let cluster: Cluster;

beforeAll(async () => {
  db = await createTestDatabase();
  // Tasks take 1.5 s so that the worker we kill is surely holding some.
  cluster = await startCluster({ databaseEnv: db.env, workers: 2, scheduler: true, workerEnv: { TASK_PROCESS_TIME: '1500ms' } });
});
afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

test('SIGKILL of a worker holding tasks: each of its tasks completes on another worker, none twice', async () => {
  const victim = cluster.workers[0];
  const victimId = Number((await victim.waitForLog((l) => l.msg === 'worker started')).worker_id);
  const batch = await request(`${cluster.schedulerUrl}/api/schedule/batch`, { body: { command: 'demo-job', count: 20 } });
  expect(batch.status).toBe(201);

  let held: string[] = [];
  await waitFor(async () => {
    const { rows } = await db.pool.query("SELECT id FROM tasks WHERE worker_id = $1 AND status IN ('dispatched', 'running')", [victimId]);
    held = rows.map((row) => row.id);
    return held.length > 0;
  }, 20_000, 'the victim to hold tasks');
  victim.child.kill('SIGKILL');
  await victim.exited;

  await waitForSucceeded(db, 20, 60_000);

  // Everything the victim was given and did not finish went back and was finished by the other worker.
  const { rows: unfinished } = await db.pool.query(
    `SELECT DISTINCT a.task_id FROM events a
     WHERE a.type = 'assigned' AND a.worker_id = $1
       AND NOT EXISTS (SELECT 1 FROM events c WHERE c.type = 'completed' AND c.task_id = a.task_id AND c.worker_id = $1)`,
    [victimId],
  );
  const unfinishedIds = unfinished.map((row) => row.task_id).sort();
  expect(unfinishedIds).toEqual(expect.arrayContaining(held));
  const { rows: rerun } = await db.pool.query('SELECT id, worker_id, attempt, status FROM tasks WHERE id = ANY($1)', [unfinishedIds]);
  for (const task of rerun) {
    expect(task).toMatchObject({ status: 'succeeded' });
    expect(task.worker_id).not.toBe(victimId);
    expect(task.attempt).toBeGreaterThanOrEqual(2);
  }
  const { rows: completions } = await db.pool.query("SELECT task_id, count(*)::int AS n FROM events WHERE type = 'completed' GROUP BY task_id");
  expect(completions).toHaveLength(20);
  expect(completions.every((row) => row.n === 1)).toBe(true);
  const { rows: handedBack } = await db.pool.query("SELECT DISTINCT task_id FROM events WHERE type = 'reassigned'");
  expect(handedBack.map((row) => row.task_id).sort()).toEqual(unfinishedIds);
  const { rows: evictions } = await db.pool.query("SELECT worker_id FROM events WHERE type = 'worker_evicted'");
  expect(evictions.map((row) => row.worker_id)).toEqual([victimId]);
});
