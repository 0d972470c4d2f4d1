import * as grpc from '@grpc/grpc-js';
import {
  callUnary, type CoordinatorServiceClient, type HeartbeatRequest,
  type TaskRequest,
} from '../../common/src/grpc/contract';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { registry as metrics } from '../../common/src/metrics';
import { useTestCoordinator } from '../../../test/helpers/coordinator';
import type { TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';
import { connectStream, StreamWorker as BaseStreamWorker } from './stream-worker';

/*
 * The coordinator learns what each worker holds from the worker (issue 10): these tests play a worker on a
 * raw Connect stream against a real coordinator and PostgreSQL, and check leases, slots, hand-backs, drops
 * and task names against what that worker says it holds.
 */

let db: TestDatabase;
let client: CoordinatorServiceClient;
const GRACE_MS = 500;

useTestCoordinator({ HEARTBEAT_INTERVAL: '1s', POLL_INTERVAL: '1s', HOLDINGS_GRACE: `${GRACE_MS}ms`, DISPATCH_LOOKAHEAD: '0ms' }, (running) => {
  ({ db, client } = running);
});
class StreamWorker extends BaseStreamWorker {
  constructor(id: number, base: Partial<HeartbeatRequest>, accept?: (task: TaskRequest) => boolean) {
    super(client, id, base, accept);
  }
}

afterEach(async () => {
  await db.pool.query('DELETE FROM tasks');
});

async function workerInfo(id: number) {
  const { workers } = await callUnary(client, client.ListWorkers, {}, 5000);
  return workers.find((w) => w.workerId === id);
}

async function taskRows(ids: string[]) {
  const { rows } = await db.pool.query<{ id: string; status: string; attempt: number; worker_id: number | null; lease_expires_at: Date | null }>(
    'SELECT id, status, attempt, worker_id, lease_expires_at FROM tasks WHERE id = ANY($1::uuid[]) ORDER BY id', [ids]);
  return rows;
}

test('tasks the database gives a worker that it does not hold are handed back, and its slots are what it holds', async () => {
  // As a coordinator that died between claim and send leaves them: dispatched to worker 501, never sent.
  const tasks = await insertTasks(db.pool, Array.from({ length: 5 }, () => ({ command: 'noop', scheduledAt: new Date() })));
  const ids = tasks.map((t) => t.id);
  await db.pool.query(`UPDATE tasks SET status = 'dispatched', attempt = 1, worker_id = 501, picked_at = now() - interval '1 minute',
                       lease_expires_at = now() + interval '1 hour' WHERE id = ANY($1::uuid[])`, [ids]);
  // It runs only 'other' tasks, so the handed-back command tasks are not sent to it again.
  const worker = new StreamWorker(501, { handles: ['other'], command_tasks: false });
  try {
    expect(await worker.beat([])).toEqual([]);
    await waitFor(async () => (await taskRows(ids)).every((row) => row.status === 'pending'), 5000, 'the unheld tasks to be handed back');
    expect((await taskRows(ids)).map((row) => row.attempt)).toEqual([1, 1, 1, 1, 1]);
    expect(await workerInfo(501)).toMatchObject({ slots_busy: 0, handles: ['other'], command_tasks: false });
    expect(worker.received).toEqual([]);
  } finally {
    worker.close();
  }
});

test('a heartbeat renews exactly the held attempts and tells the worker to drop what the database no longer gives it', async () => {
  const tasks = await insertTasks(db.pool, Array.from({ length: 3 }, () => ({ command: 'noop', scheduledAt: new Date() })));
  const [held, notHeld, finished] = tasks.map((t) => t.id);
  await db.pool.query(`UPDATE tasks SET status = 'running', attempt = 2, worker_id = 502, picked_at = now() - interval '1 minute',
                       lease_expires_at = now() + interval '1 second' WHERE id = ANY($1::uuid[])`, [[held, notHeld]]);
  await db.pool.query(`UPDATE tasks SET status = 'succeeded', attempt = 1, worker_id = 502 WHERE id = $1`, [finished]);
  const worker = new StreamWorker(502, { handles: ['other'], command_tasks: false });
  try {
    const drop = await worker.beat([
      { task_id: held, attempt: 2 },
      { task_id: finished, attempt: 1 },
      // An older attempt of a task the database has at attempt 2: stale.
      { task_id: notHeld, attempt: 1 },
    ]);
    expect(drop.map((t) => `${t.task_id}/${t.attempt}`).sort()).toEqual([`${finished}/1`, `${notHeld}/1`].sort());
    await waitFor(async () => (await taskRows([notHeld]))[0].status === 'pending', 5000, 'the unheld attempt to be handed back');
    const [row] = await taskRows([held]);
    expect(row.status).toBe('running');
    expect(row.lease_expires_at!.getTime()).toBeGreaterThan(Date.now() + 20_000);
    expect(await workerInfo(502)).toMatchObject({ slots_busy: 1 });
  } finally {
    worker.close();
  }
});

test('a task is only sent to a worker that runs its name; it waits, pending, until one joins', async () => {
  await db.pool.query(`INSERT INTO tasks (name, payload, scheduled_at) VALUES ('task-b', '{"n": 1}', now())`);
  const a = new StreamWorker(503, { handles: ['task-a'], command_tasks: false });
  let b: StreamWorker | undefined;
  try {
    await a.beat([]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(a.received).toEqual([]);
    const { rows: [pending] } = await db.pool.query(`SELECT status FROM tasks WHERE name = 'task-b'`);
    expect(pending.status).toBe('pending');
    // And it says so: the coordinator's gauge of pending tasks no connected worker runs.
    await waitFor(async () => /taskmaster_tasks_unhandled\{name="task-b"\} 1/.test(await metrics.getSingleMetricAsString('taskmaster_tasks_unhandled')),
      3000, 'the unhandled gauge to show task-b');
    b = new StreamWorker(504, { handles: ['task-b'], command_tasks: false });
    await b.beat([]);
    await waitFor(() => b!.received.length === 1, 5000, 'task-b to reach the worker that runs it');
    expect(b.received[0]).toMatchObject({ name: 'task-b', queue: 'default', attempt: 1 });
    expect(JSON.parse(b.received[0].payload)).toEqual({ n: 1 });
    expect(a.received).toEqual([]);
  } finally {
    a.close();
    b?.close();
  }
});

test('a sent task the worker never lists is handed back after the grace; one it lists stays', async () => {
  const tasks = await insertTasks(db.pool, Array.from({ length: 2 }, () => ({ command: 'noop', scheduledAt: new Date() })));
  const worker = new StreamWorker(505, { handles: [], command_tasks: true });
  try {
    await worker.beat([]);
    await waitFor(() => worker.received.length === 2, 5000, 'both tasks to be sent');
    const [kept, lost] = worker.received;
    // Within the grace the coordinator still counts both, whatever the heartbeat says.
    await worker.beat([{ task_id: kept.task_id, attempt: kept.attempt }]);
    expect(await workerInfo(505)).toMatchObject({ slots_busy: 2 });
    await new Promise((resolve) => setTimeout(resolve, GRACE_MS + 100));
    await worker.beat([{ task_id: kept.task_id, attempt: kept.attempt }]);
    await waitFor(async () => (await taskRows([lost.task_id]))[0].status !== 'dispatched' || (await taskRows([lost.task_id]))[0].attempt > lost.attempt,
      5000, 'the lost task to be handed back');
    expect((await taskRows([kept.task_id]))[0]).toMatchObject({ status: 'dispatched', attempt: kept.attempt, worker_id: 505 });
    expect(tasks).toHaveLength(2);
  } finally {
    worker.close();
  }
});

test('Connect refuses a first message that is not a heartbeat, and a heartbeat without slots, naming the field', async () => {
  const call = connectStream(client);
  const status = new Promise<grpc.StatusObject>((resolve) => call.on('status', resolve));
  call.on('error', () => undefined);
  call.on('data', () => undefined);
  call.write({ seq: 1, reports: { updates: [] } });
  expect(await status).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/heartbeat/) });

  const second = connectStream(client);
  const secondStatus = new Promise<grpc.StatusObject>((resolve) => second.on('status', resolve));
  second.on('error', () => undefined);
  second.on('data', () => undefined);
  second.write({ seq: 1, heartbeat: { workerId: 9, slots_total: 0 } as HeartbeatRequest });
  expect(await secondStatus).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/slots_total/) });
});
