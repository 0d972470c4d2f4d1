import type { CoordinatorServiceClient } from '../../common/src/grpc/contract';
import { insertTasks } from '../../common/src/db/insert-tasks';
import type { Coordinator } from '../src/coordinator';
import { startTestCoordinator, type TestCoordinator } from '../../../test/helpers/coordinator';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';
import { StreamWorker } from './stream-worker';

/*
 * Several coordinators on one database (issue 10, defect 10): a worker belongs to the coordinator it is
 * connected to. When it moves, the coordinator it left evicts it after its missed heartbeats, and must not
 * hand back the tasks it still runs for the other one.
 */

let db: TestDatabase;
const running: TestCoordinator[] = [];
const coordinators: Coordinator[] = [];

async function start(): Promise<CoordinatorServiceClient> {
  const started = await startTestCoordinator(db, {
    HEARTBEAT_INTERVAL: '300ms', MAX_MISSED_HEARTBEATS: '2', POLL_INTERVAL: '1s', HOLDINGS_GRACE: '300ms', LEASE_DURATION: '30s',
  });
  running.push(started);
  coordinators.push(started.coordinator);
  return started.client;
}

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const started of running) await started.stop();
  await db.drop();
});

test('a worker that moves to another coordinator keeps its tasks when the first evicts it', async () => {
  const first = await start();
  const second = await start();
  const tasks = await insertTasks(db.pool, Array.from({ length: 3 }, () => ({ command: 'noop', scheduledAt: new Date() })));
  const onFirst = new StreamWorker(first, 601, { handles: [], command_tasks: true });
  await onFirst.beat([]);
  await waitFor(() => onFirst.received.length === 3, 5000, 'the tasks to reach the worker');
  const held = onFirst.received.map((task) => ({ task_id: task.task_id, attempt: task.attempt }));

  // The connection to the first coordinator breaks; the worker carries on with the second.
  onFirst.close();
  const onSecond = new StreamWorker(second, 601, { handles: [], command_tasks: true });
  const beating = setInterval(() => void onSecond.beat(held).catch(() => undefined), 300);
  try {
    expect(await onSecond.beat(held)).toEqual([]);
    // The first coordinator evicts the silent worker after 2 missed 300 ms heartbeats.
    await waitFor(async () => {
      const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'worker_evicted' AND worker_id = 601`);
      const left = coordinators[0].registry.get(601) === undefined;
      return left && rows[0].n === 0;
    }, 5000, 'the first coordinator to drop the worker');
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const { rows } = await db.pool.query(`SELECT status, attempt, worker_id FROM tasks WHERE id = ANY($1::uuid[])`, [tasks.map((t) => t.id)]);
    expect(rows).toEqual(tasks.map(() => ({ status: 'dispatched', attempt: 1, worker_id: 601 })));
    const { rows: [owner] } = await db.pool.query('SELECT generation FROM worker_owners WHERE worker_id = 601');
    expect(owner.generation).toBe(2);
    expect(coordinators[1].registry.get(601)?.assigned.size).toBe(3);
  } finally {
    clearInterval(beating);
    onSecond.close();
  }
});

test('a worker left behind by a coordinator that stopped is handed back by that coordinator only while it owns it', async () => {
  const client = await start();
  const tasks = await insertTasks(db.pool, [{ command: 'noop', scheduledAt: new Date() }]);
  const worker = new StreamWorker(client, 602, { handles: [], command_tasks: true });
  await worker.beat([]);
  await waitFor(() => worker.received.length === 1, 5000, 'the task to reach the worker');
  // The worker goes silent: its own coordinator evicts it and hands its task back.
  await waitFor(async () => {
    const { rows } = await db.pool.query('SELECT status FROM tasks WHERE id = $1', [tasks[0].id]);
    return rows[0].status !== 'dispatched' || false;
  }, 5000, 'the silent worker\'s task to be handed back');
  const { rows } = await db.pool.query(`SELECT count(*)::int AS n FROM events WHERE type = 'worker_evicted' AND worker_id = 602`);
  expect(rows[0].n).toBe(1);
  worker.close();
});
