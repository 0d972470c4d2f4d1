import pg from 'pg';
import { measureQueue } from '../../services/common/src/db/measure-queue';
import { createLogger } from '../../services/common/src/logger';
import { registry } from '../../services/common/src/metrics';
import { sampleQueue } from '../../services/coordinator/src/metrics';
import { WorkerRegistry } from '../../services/coordinator/src/registry';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { waitFor } from '../helpers/wait';

/*
 * The two gauges the chart's alerts read that only trouble sets (TaskMasterTasksStuckDispatched,
 * TaskMasterDatabaseUnreachable): a task dispatched over a minute ago and never started is counted, and a
 * coordinator whose queue sample cannot reach PostgreSQL says 0.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

const gauge = async (name: string) => (await registry.getSingleMetric(name)!.get()).values[0]?.value;

test('a task dispatched over a minute ago and not started counts as stuck; one dispatched just now does not', async () => {
  await db.pool.query(`INSERT INTO tasks (command, scheduled_at, status, attempt, worker_id, picked_at, lease_expires_at)
    VALUES ('hung', now() - interval '3 minutes', 'dispatched', 1, 7, now() - interval '2 minutes', now() + interval '1 minute'),
           ('fresh', now(), 'dispatched', 1, 7, now(), now() + interval '1 minute'),
           ('running-long', now() - interval '3 minutes', 'running', 1, 7, now() - interval '2 minutes', now() + interval '1 minute')`);
  expect((await measureQueue(db.pool)).stuck_dispatched).toBe(1);
});

test('the sampler sets taskmaster_database_up to 1 when PostgreSQL answers and to 0 when it does not', async () => {
  const workers = new WorkerRegistry({ defaultSlots: 5, heartbeatIntervalMs: 1000, maxMissedHeartbeats: 3, holdingsGraceMs: 1000 });
  const logger = createLogger('test', 'silent');
  const up = sampleQueue({ pool: db.pool, logger, intervalMs: 100, workers });
  await waitFor(async () => (await gauge('taskmaster_database_up')) === 1, 5000, 'database_up 1');
  expect(await gauge('taskmaster_tasks_stuck_dispatched')).toBe(1);
  await up.stop();
  const unreachable = new pg.Pool({ host: '127.0.0.1', port: 1, connectionTimeoutMillis: 200 });
  const down = sampleQueue({ pool: unreachable as never, logger, intervalMs: 100, workers });
  try {
    await waitFor(async () => (await gauge('taskmaster_database_up')) === 0, 5000, 'database_up 0');
  } finally {
    await down.stop();
    await unreachable.end();
  }
});
