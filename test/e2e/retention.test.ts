import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { createLogger } from '../../services/common/src/logger';
import { claimDueTasks } from '../../services/coordinator/src/db/claim-due-tasks';
import { pruneTasks } from '../../services/coordinator/src/db/prune-tasks';
import { WorkerRegistry } from '../../services/coordinator/src/registry';
import { Sweeper } from '../../services/coordinator/src/sweeper';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/*
 * Retention on real PostgreSQL: finished tasks past their state's age go with their events; everything else stays;
 * and a prune holding its locks never makes a claim wait.
 */

let db: TestDatabase;
beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(() => db.drop());

const DAY = 86_400_000;

/** `count` finished tasks of `status` that finished `daysAgo` days ago, each with two events. */
async function finished(status: 'succeeded' | 'failed' | 'cancelled', daysAgo: number, count: number, command: string): Promise<void> {
  const column = { succeeded: 'completed_at', failed: 'failed_at', cancelled: 'cancelled_at' }[status];
  await db.pool.query(
    `WITH made AS (
       INSERT INTO tasks (command, scheduled_at, status, ${column}, updated_at)
       SELECT $1, now() - make_interval(days => $2) - interval '1 minute', $3::task_status, now() - make_interval(days => $2), now() - make_interval(days => $2)
       FROM generate_series(1, $4) RETURNING id)
     INSERT INTO events (type, task_id, command, message) SELECT t.type, made.id, $1, '' FROM made, (VALUES ('scheduled'), ('completed')) AS t(type)`,
    [command, daysAgo, status, count]);
}

const count = async (command: string) => (await db.pool.query('SELECT count(*)::int AS n FROM tasks WHERE command = $1', [command])).rows[0].n;
const eventCount = async (command: string) => (await db.pool.query('SELECT count(*)::int AS n FROM events WHERE command = $1', [command])).rows[0].n;

test('each finished state is kept for its own age, with its events; unfinished tasks and younger ones stay', async () => {
  await finished('succeeded', 8, 2500, 'old-success');
  await finished('succeeded', 2, 10, 'young-success');
  await finished('failed', 8, 5, 'week-old-failure');
  await finished('failed', 31, 5, 'old-failure');
  await finished('cancelled', 8, 5, 'old-cancel');
  await insertTasks(db.pool, [{ command: 'old-but-pending', scheduledAt: new Date(Date.now() - 40 * DAY) }]);
  const youngEvents = await eventCount('young-success');

  const sweeper = new Sweeper({
    pool: db.pool, registry: new WorkerRegistry({ defaultSlots: 5, heartbeatIntervalMs: 1000, maxMissedHeartbeats: 3, holdingsGraceMs: 1000 }),
    logger: createLogger('test', 'silent'), coordinatorId: '00000000-0000-4000-8000-000000000000', evictionCheckMs: 1000, leaseCheckMs: 1000,
    retention: { succeededMs: 7 * DAY, failedMs: 30 * DAY, cancelledMs: 7 * DAY, eventsMs: 0 }, onHandedBack: () => {},
  });
  await sweeper.prune();

  expect(await count('old-success')).toBe(0);
  expect(await eventCount('old-success')).toBe(0);
  expect(await count('young-success')).toBe(10);
  expect(await eventCount('young-success')).toBe(youngEvents);
  expect(await count('week-old-failure')).toBe(5);
  expect(await count('old-failure')).toBe(0);
  expect(await count('old-cancel')).toBe(0);
  expect(await count('old-but-pending')).toBe(1);
});

test('a prune that holds its locks does not make a claim wait', async () => {
  await finished('succeeded', 10, 500, 'pruned-while-claiming');
  await insertTasks(db.pool, Array.from({ length: 20 }, (_, i) => ({ command: `due-${i}`, scheduledAt: new Date() })));
  const pruning = await db.pool.connect();
  try {
    await pruning.query('BEGIN');
    expect(await pruneTasks(pruning as never, 'succeeded', 7 * DAY)).toBe(500);
    // The prune's transaction is open: its deleted rows stay locked until it commits.
    const claiming = await db.pool.connect();
    try {
      await claiming.query("SET lock_timeout = '200ms'");
      const claimed = await claimDueTasks(claiming as never, Array.from({ length: 21 }, () => 1), { names: [], commandTasks: true, commandsWithoutPayload: false }, 30_000);
      expect(claimed.filter((task) => task.command?.startsWith('due-'))).toHaveLength(20);
    } finally {
      await claiming.query('RESET lock_timeout');
      claiming.release();
    }
    await pruning.query('COMMIT');
  } finally {
    pruning.release();
  }
  expect(await count('pruned-while-claiming')).toBe(0);
});
