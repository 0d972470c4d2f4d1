import * as grpc from '@grpc/grpc-js';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { callUnary, type CoordinatorServiceClient, type UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import type { Coordinator } from '../src/coordinator';
import { useTestCoordinator } from '../../../test/helpers/coordinator';
import { originalContract } from '../../../test/helpers/original-contract';
import type { TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';

/*
 * Reports over real gRPC: an original worker's report (no worker id, no attempt) is attributed to the worker
 * the attempt was sent to, by the connection its heartbeats come over, and applies from no other; a bad
 * report is INVALID_ARGUMENT alone.
 */

let db: TestDatabase;
let coordinator: Coordinator;
let client: CoordinatorServiceClient;
let address: string;

useTestCoordinator({ HEARTBEAT_INTERVAL: '1s', POLL_INTERVAL: '1s' }, (running) => ({ coordinator, client, address, db } = running));

/** An original worker: its own connection to the coordinator (as a separate process has) and a WorkerService that accepts everything. */
async function originalWorker(api: any, workerId: number) {
  const received: string[] = [];
  const server = new grpc.Server();
  server.addService(api.grpcapi.WorkerService.service, {
    SubmitTask: (call: any, callback: any) => {
      received.push(call.request.task_id);
      callback(null, { task_id: call.request.task_id, success: true, message: 'ok' });
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  const coordinatorClient = new api.grpcapi.CoordinatorService(address, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
  const call = <T>(method: string, request: object) => new Promise<T>((resolve, reject) =>
    coordinatorClient[method](request, (err: grpc.ServiceError | null, res: T) => (err ? reject(err) : resolve(res))));
  return {
    received,
    heartbeat: () => call('SendHeartbeat', { workerId, address: `127.0.0.1:${port}` }),
    report: (request: object) => call<{ success: boolean }>('UpdateTaskStatus', request),
    close() {
      coordinatorClient.close();
      server.forceShutdown();
    },
  };
}

async function taskRow(id: string) {
  return (await db.pool.query('SELECT status, worker_id FROM tasks WHERE id = $1', [id])).rows[0];
}

test("an original worker's reports apply from its own connection only, and free its slot", async () => {
  const api = originalContract();
  const holder = await originalWorker(api, 4_100_000_001);
  const other = await originalWorker(api, 4_100_000_002);
  try {
    await holder.heartbeat();
    const [task] = await insertTasks(db.pool, [{ command: 'legacy-job', scheduledAt: new Date() }]);
    await waitFor(() => holder.received.includes(task.id), 10_000, 'the task to reach the holder');
    await other.heartbeat();
    const now = Math.floor(Date.now() / 1000);

    // The other original worker's late or confused report: refused, nothing changes.
    const refused = await other.report({ task_id: task.id, status: 'COMPLETE', completed_at: now }).then(() => undefined, (err: grpc.ServiceError) => err);
    expect(refused?.code).toBe(grpc.status.FAILED_PRECONDITION);
    expect(await taskRow(task.id)).toEqual({ status: 'dispatched', worker_id: 4_100_000_001 });
    expect(coordinator.registry.get(4_100_000_001)?.assigned.size).toBe(1);

    // The holder's reports carry no worker id; they apply, and its slot is given back.
    await holder.report({ task_id: task.id, status: 'STARTED', started_at: now });
    await holder.report({ task_id: task.id, status: 'COMPLETE', completed_at: now });
    expect(await taskRow(task.id)).toEqual({ status: 'succeeded', worker_id: 4_100_000_001 });
    expect(coordinator.registry.get(4_100_000_001)?.assigned.size).toBe(0);
  } finally {
    coordinator.registry.remove(4_100_000_001);
    coordinator.registry.remove(4_100_000_002);
    holder.close();
    other.close();
  }
});

test('a report PostgreSQL cannot store is INVALID_ARGUMENT alone; in a batch, the others are written', async () => {
  const [task] = await insertTasks(db.pool, [{ command: 'never-claimed', scheduledAt: new Date('2032-01-01T00:00:00Z') }]);
  const bad = { task_id: task.id, status: 'COMPLETE', attempt: 1, worker_id: 5, at_ms: 1e18 } as UpdateTaskStatusRequest;
  const error = await callUnary(client, client.UpdateTaskStatus, bad, 5000).then(() => undefined, (err: grpc.ServiceError) => err);
  expect(error?.code).toBe(grpc.status.INVALID_ARGUMENT);
  expect(error?.details).toMatch(/at_ms/);

  const batch = await callUnary(client, client.UpdateTaskStatuses, {
    updates: [bad, { ...bad, at_ms: Date.now(), error: 'a\u0000b', status: 'FAILED' }, { ...bad, at_ms: Date.now() }] as UpdateTaskStatusRequest[],
  }, 5000);
  expect(batch.results.map((r) => r.success)).toEqual([false, false, false]);
  expect(batch.results[0].message).toMatch(/^at_ms: /);
  expect(batch.results[1].message).toMatch(/^error: /);
  // The third is well-formed: written, and not applied because the task is not in flight.
  expect(batch.results[2].message).toMatch(/not applied/);
});
