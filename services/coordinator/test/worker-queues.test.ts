import {
  callUnary, type CoordinatorServiceClient, type HeartbeatRequest, type TaskRequest,
} from '../../common/src/grpc/contract';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { useTestCoordinator } from '../../../test/helpers/coordinator';
import type { TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';
import { StreamWorker as BaseStreamWorker } from './stream-worker';

/*
 * Worker pools (issue 14): a worker that declares queues (WORKER_QUEUES) is sent only tasks of those queues,
 * with the queue controls still applied; one that declares none takes every queue, as before. Played on raw
 * Connect streams against a real coordinator and PostgreSQL.
 */

let db: TestDatabase;
let client: CoordinatorServiceClient;

useTestCoordinator({ HEARTBEAT_INTERVAL: '1s', POLL_INTERVAL: '1s', DISPATCH_LOOKAHEAD: '0ms' }, (running) => {
  ({ db, client } = running);
});

class StreamWorker extends BaseStreamWorker {
  constructor(id: number, base: Partial<HeartbeatRequest>, accept?: (task: TaskRequest) => boolean) {
    super(client, id, base, accept);
  }
}

afterEach(async () => {
  await db.pool.query('DELETE FROM tasks');
  await db.pool.query('DELETE FROM queues');
});

const due = () => new Date(Date.now() - 1000);

test('a worker limited to queues gets only their tasks; the rest wait for a worker that takes them', async () => {
  await insertTasks(db.pool, [
    { command: 'noop', queue: 'reports', scheduledAt: due() },
    { command: 'noop', queue: 'reports', scheduledAt: due() },
    { command: 'noop', queue: 'emails', scheduledAt: due() },
    { command: 'noop', scheduledAt: due() },
  ]);
  const reports = new StreamWorker(701, { handles: [], command_tasks: true, queues: ['reports'] });
  let anyQueue: StreamWorker | undefined;
  try {
    await reports.beat([]);
    await waitFor(() => reports.received.length === 2, 5000, 'the two reports tasks to reach the reports worker');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(reports.received.map((task) => task.queue)).toEqual(['reports', 'reports']);
    const { rows } = await db.pool.query<{ queue: string }>(`SELECT queue FROM tasks WHERE status = 'pending' ORDER BY queue`);
    expect(rows.map((row) => row.queue)).toEqual(['default', 'emails']);
    const { workers } = await callUnary(client, client.ListWorkers, {}, 5000);
    expect(workers.find((w) => w.workerId === 701)).toMatchObject({ queues: ['reports'] });

    anyQueue = new StreamWorker(702, { handles: [], command_tasks: true });
    await anyQueue.beat([]);
    await waitFor(() => anyQueue!.received.length === 2, 5000, 'the other queues to reach the unlimited worker');
    expect(anyQueue.received.map((task) => task.queue).sort()).toEqual(['default', 'emails']);
    expect((await callUnary(client, client.ListWorkers, {}, 5000)).workers.find((w) => w.workerId === 702)).toMatchObject({ queues: [] });
  } finally {
    reports.close();
    anyQueue?.close();
  }
});

test("a queue's controls still hold for a worker limited to it", async () => {
  await db.pool.query(`INSERT INTO queues (name, max_running) VALUES ('reports', 1)`);
  // What the API's queue controls send after a change: the dispatcher then claims through the gates.
  await db.pool.query(`NOTIFY taskmaster_gates`);
  await insertTasks(db.pool, Array.from({ length: 3 }, () => ({ command: 'noop', queue: 'reports', scheduledAt: due() })));
  const worker = new StreamWorker(703, { handles: [], command_tasks: true, queues: ['reports'] });
  try {
    await worker.beat([]);
    await waitFor(() => worker.received.length === 1, 5000, 'one reports task');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(worker.received).toHaveLength(1);
  } finally {
    worker.close();
  }
});
