import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { createTestDatabase, waitForSucceeded, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';

let db: TestDatabase;
const clusters: Cluster[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  // Two independent coordinators, each with its own workers, competing for one table.
  for (let i = 0; i < 2; i++) {
    clusters.push(await startCluster({ databaseEnv: db.env, workers: 2, workerEnv: { TASK_PROCESS_TIME: '5ms', WORKER_POOL_SIZE: '20' } }));
  }
});
afterAll(async () => {
  await Promise.all(clusters.map((c) => c.stop()));
  await db?.drop();
});

test('two coordinators against one database never dispatch the same attempt twice', async () => {
  const tasks = Array.from({ length: 1000 }, (_, i) => ({ command: `job-${i}`, scheduledAt: new Date() }));
  await insertTasks(db.pool, tasks.slice(0, 500));
  await insertTasks(db.pool, tasks.slice(500));

  await waitForSucceeded(db, 1000, 90_000);

  const { rows: doubled } = await db.pool.query(
    "SELECT task_id, attempt, count(*)::int AS n FROM events WHERE type = 'assigned' GROUP BY task_id, attempt HAVING count(*) > 1",
  );
  expect(doubled).toEqual([]);
  const { rows: completions } = await db.pool.query("SELECT count(*)::int AS n, count(DISTINCT task_id)::int AS tasks FROM events WHERE type = 'completed'");
  expect(completions[0]).toEqual({ n: 1000, tasks: 1000 });
  // Both coordinators took part: their workers each ran some of the tasks.
  const { rows: workers } = await db.pool.query('SELECT count(DISTINCT worker_id)::int AS n FROM tasks');
  expect(workers[0].n).toBe(4);
});
