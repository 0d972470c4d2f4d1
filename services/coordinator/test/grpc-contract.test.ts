import { readFileSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { callUnary, grpcApi, protoPath, type CoordinatorServiceClient, type UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import { createHealthClient } from '../../common/src/grpc/server';
import { insertTasks } from '../../common/src/db/insert-tasks';
import type { Coordinator } from '../src/coordinator';
import { useTestCoordinator } from '../../../test/helpers/coordinator';
import { originalContract } from '../../../test/helpers/original-contract';
import type { TestDatabase } from '../../../test/helpers/database';
import { waitFor } from '../../../test/helpers/wait';

let db: TestDatabase;
let coordinator: Coordinator;
let client: CoordinatorServiceClient;
let address: string;

useTestCoordinator({ HEARTBEAT_INTERVAL: '1s', POLL_INTERVAL: '1s' }, (running) => ({ coordinator, client, address, db } = running));

async function expectCode(call: Promise<unknown>, code: grpc.status, detail?: RegExp) {
  const error = await call.then(() => undefined, (err: grpc.ServiceError) => err);
  expect(error).toBeDefined();
  expect(grpc.status[error!.code]).toBe(grpc.status[code]);
  if (detail) expect(error!.details).toMatch(detail);
}

test('serves grpc.health.v1 for the server and the service', async () => {
  const health = createHealthClient(address);
  for (const service of ['', 'grpcapi.CoordinatorService']) {
    const response = await new Promise<{ status: string }>((resolve, reject) =>
      health.Check({ service }, (err, res) => (err ? reject(err) : resolve(res!))));
    expect(response.status).toBe('SERVING');
  }
  health.close();
});

test('SubmitTask persists a task; bad input is INVALID_ARGUMENT', async () => {
  const response = await callUnary(client, client.SubmitTask, { data: 'grpc-job', scheduled_at: 4_102_444_800 }, 5000);
  expect(response.task_id).toMatch(/^[0-9a-f-]{36}$/);
  const { rows } = await db.pool.query('SELECT command, scheduled_at FROM tasks WHERE id = $1', [response.task_id]);
  expect(rows[0]).toEqual({ command: 'grpc-job', scheduled_at: new Date(4_102_444_800_000) });
  await expectCode(callUnary(client, client.SubmitTask, { data: '' }, 5000), grpc.status.INVALID_ARGUMENT, /data/);
  await expectCode(callUnary(client, client.SubmitTask, { data: 'x', scheduled_at: -5 }, 5000), grpc.status.INVALID_ARGUMENT, /scheduled_at/);
});

test('SendHeartbeat validates the worker id and address', async () => {
  await expectCode(callUnary(client, client.SendHeartbeat, { workerId: 0, address: '127.0.0.1:1' }, 5000), grpc.status.INVALID_ARGUMENT, /workerId/);
  await expectCode(callUnary(client, client.SendHeartbeat, { workerId: 7, address: 'no port' }, 5000), grpc.status.INVALID_ARGUMENT, /address/);
});

test('UpdateTaskStatus: bad input is INVALID_ARGUMENT, an unknown task NOT_FOUND', async () => {
  await expectCode(callUnary(client, client.UpdateTaskStatus, { task_id: 'nope', status: 'COMPLETE' }, 5000), grpc.status.INVALID_ARGUMENT, /task_id/);
  await expectCode(callUnary(client, client.UpdateTaskStatus, { task_id: '00000000-0000-4000-8000-000000000000', status: 'QUEUED' }, 5000), grpc.status.INVALID_ARGUMENT, /status/);
  await expectCode(callUnary(client, client.UpdateTaskStatus, { task_id: '00000000-0000-4000-8000-000000000000', status: 'COMPLETE', attempt: 1 }, 5000), grpc.status.NOT_FOUND);
});

test('a worker built against the original contract registers, receives tasks, and completes them', async () => {
  // A worker built against the original contract: no attempt numbers or slot counts, only the unary SubmitTask.
  expect(readFileSync(protoPath(), 'utf8')).toContain('package grpcapi;');
  const api = originalContract();
  const received: Array<Record<string, unknown>> = [];
  const original = createCoordinatorClientFrom(api, address);
  const server = new grpc.Server();
  server.addService(api.grpcapi.WorkerService.service, {
    SubmitTask: (call: any, callback: any) => {
      received.push(call.request);
      callback(null, { task_id: call.request.task_id, success: true, message: 'ok' });
      const now = Math.floor(Date.now() / 1000);
      original.UpdateTaskStatus({ task_id: call.request.task_id, status: 'STARTED', started_at: now }, () =>
        original.UpdateTaskStatus({ task_id: call.request.task_id, status: 'COMPLETE', completed_at: now }, () => undefined));
    },
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  try {
    await new Promise((resolve, reject) => original.SendHeartbeat({ workerId: 4_000_000_000, address: `127.0.0.1:${port}` }, (err: Error | null, res: unknown) => (err ? reject(err) : resolve(res))));
    const [task] = await insertTasks(db.pool, [{ command: 'legacy-job', scheduledAt: new Date() }]);
    await waitFor(async () => {
      const { rows } = await db.pool.query('SELECT status FROM tasks WHERE id = $1', [task.id]);
      return rows[0].status === 'succeeded';
    }, 15_000, 'the original worker to complete the task');
    expect(received).toEqual([{ task_id: task.id, data: 'legacy-job' }]);
    const { rows } = await db.pool.query('SELECT worker_id, attempt FROM tasks WHERE id = $1', [task.id]);
    // uint32 worker ids above 2^31 fit (the original INTEGER column would have overflowed).
    expect(rows[0]).toEqual({ worker_id: 4_000_000_000, attempt: 1 });
    const worker = coordinator.registry.get(4_000_000_000);
    expect(worker).toMatchObject({ legacy: true, slotsTotal: 5 });
  } finally {
    coordinator.registry.remove(4_000_000_000);
    server.forceShutdown();
    original.close();
  }
});

test('fencing: a report for another attempt, or a second report, is refused with FAILED_PRECONDITION', async () => {
  const held: string[] = [];
  const server = new grpc.Server();
  server.addService(grpcApi().WorkerService.service, {
    SubmitTasks: (call: any, callback: any) => {
      held.push(...call.request.tasks.map((t: { task_id: string }) => t.task_id));
      callback(null, { results: call.request.tasks.map((t: { task_id: string }) => ({ task_id: t.task_id, success: true })) });
    },
    SubmitTask: (_call: any, callback: any) => callback(null, { success: false }),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))));
  try {
    await callUnary(client, client.SendHeartbeat, { workerId: 99, address: `127.0.0.1:${port}`, slots_total: 1, slots_free: 1 }, 5000);
    const [task] = await insertTasks(db.pool, [{ command: 'fenced', scheduledAt: new Date() }]);
    await waitFor(() => held.includes(task.id), 10_000, 'the task to be dispatched');
    const report = { task_id: task.id, status: 'COMPLETE' as const, worker_id: 99, at_ms: Date.now() };
    await expectCode(callUnary(client, client.UpdateTaskStatus, { ...report, attempt: 2 }, 5000), grpc.status.FAILED_PRECONDITION, /stale attempt/);
    expect((await db.pool.query('SELECT status FROM tasks WHERE id = $1', [task.id])).rows[0].status).toBe('dispatched');
    expect(await callUnary(client, client.UpdateTaskStatus, { ...report, attempt: 1 }, 5000)).toMatchObject({ success: true });
    await expectCode(callUnary(client, client.UpdateTaskStatus, { ...report, attempt: 1 }, 5000), grpc.status.FAILED_PRECONDITION);
    // Proto defaults fill the fields a report leaves out, as on the wire.
    const updates = [{ ...report, attempt: 1 }, { ...report, task_id: 'bad', attempt: 1 }] as UpdateTaskStatusRequest[];
    const batch = await callUnary(client, client.UpdateTaskStatuses, { updates }, 5000);
    expect(batch.results.map((r) => r.success)).toEqual([false, false]);
    expect(batch.results[1].message).toMatch(/task_id/);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM events WHERE task_id = $1 AND type = 'completed'", [task.id]);
    expect(rows[0].n).toBe(1);

    const workers = await callUnary(client, client.ListWorkers, {}, 5000);
    expect(workers.workers.find((w) => w.workerId === 99)).toMatchObject({ slots_total: 1, address: `127.0.0.1:${port}` });
  } finally {
    server.forceShutdown();
  }
});

function createCoordinatorClientFrom(api: any, target: string): any {
  return new api.grpcapi.CoordinatorService(target, grpc.credentials.createInsecure());
}
