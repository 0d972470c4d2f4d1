import * as grpc from '@grpc/grpc-js';
import { callUnary, createCoordinatorClient } from '../../services/common/src/grpc/contract';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/*
 * Idempotency keys on every way in, against the real scheduler app, coordinator and PostgreSQL: the body field
 * and the Idempotency-Key header of the single-task routes, per task in a batch, and gRPC SubmitTask. A key
 * names its first task for IDEMPOTENCY_KEY_TTL (24 h); another request with it is a 409.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
useSchedulerApp({}, (running) => ({ db, app } = running));

const tasksWithKey = async (key: string) =>
  (await db.pool.query('SELECT id FROM tasks WHERE idempotency_key = $1', [key])).rows.length;
const taskCount = async () => (await db.pool.query('SELECT count(*)::int AS n FROM tasks')).rows[0].n as number;

test('8 concurrent requests with one key make one task: one 201, seven 200 with the same task', async () => {
  const body = { name: 'charge', payload: { order: 42, amount: 990 }, idempotency_key: 'charge-order-42' };
  const answers = await Promise.all(Array.from({ length: 8 }, () => request(`${app.url}/api/tasks`, { body })));
  expect(answers.map((a) => a.status).sort()).toEqual([200, 200, 200, 200, 200, 200, 200, 201]);
  expect(new Set(answers.map((a) => a.body.task_id)).size).toBe(1);
  expect(await tasksWithKey('charge-order-42')).toBe(1);
});

test('the Idempotency-Key header works as the field; the same request with its fields in another order is the same; another is 409', async () => {
  const headers = { 'idempotency-key': 'header-key-1' };
  const first = await request(`${app.url}/api/tasks`, { body: { name: 'mail', payload: { to: 'a', cc: 'b' } }, headers });
  expect(first.status).toBe(201);
  const again = await request(`${app.url}/api/tasks`, { body: { payload: { cc: 'b', to: 'a' }, name: 'mail' }, headers });
  expect(again).toMatchObject({ status: 200, body: { task_id: first.body.task_id } });
  const other = await request(`${app.url}/api/tasks`, { body: { name: 'mail', payload: { to: 'someone else' } }, headers });
  expect(other.status).toBe(409);
  expect(other.body.error.message).toBe(`idempotency_key "header-key-1" was first used for a different request (task ${first.body.task_id})`);

  const both = await request(`${app.url}/api/tasks`, { body: { name: 'mail', idempotency_key: 'body-key' }, headers });
  expect(both.status).toBe(400);
  expect(both.body.error.field).toBe('Idempotency-Key');
  const long = await request(`${app.url}/api/tasks`, { body: { name: 'mail', idempotency_key: 'k'.repeat(256) } });
  expect(long.body.error).toMatchObject({ field: 'idempotency_key', message: 'idempotency_key must be a string of 1 to 255 characters without control characters' });
  expect((await request(`${app.url}/api/tasks`, { body: { name: 'mail', idempotency_key: 'k'.repeat(255) } })).status).toBe(201);

  // The original route takes the header too.
  const scheduled = await request(`${app.url}/schedule`, { body: { command: 'noop', scheduled_at: '2031-01-01T00:00:00Z' }, headers: { 'idempotency-key': 'legacy-1' } });
  const repeated = await request(`${app.url}/schedule`, { body: { command: 'noop', scheduled_at: '2031-01-01T00:00:00Z' }, headers: { 'idempotency-key': 'legacy-1' } });
  expect([scheduled.status, repeated.status]).toEqual([201, 200]);
  expect(repeated.body.task_id).toBe(scheduled.body.task_id);
});

test('a batch holding a key used for another request is refused whole: nothing is written', async () => {
  await request(`${app.url}/api/tasks`, { body: { name: 'batch-item', payload: 1, idempotency_key: 'batch-used' } });
  const before = await taskCount();
  const batch = await request(`${app.url}/api/tasks/batch`, { body: { tasks: [{ name: 'batch-item', payload: 2 }, { name: 'batch-item', payload: 3, idempotency_key: 'batch-used' }] } });
  expect(batch.status).toBe(409);
  expect(await taskCount()).toBe(before);
});

test('a key older than IDEMPOTENCY_KEY_TTL names nothing: the same key makes a new task', async () => {
  const first = await request(`${app.url}/api/tasks`, { body: { name: 'daily', idempotency_key: 'expiring' } });
  await db.pool.query("UPDATE tasks SET created_at = now() - interval '25 hours' WHERE id = $1", [first.body.task_id]);
  const later = await request(`${app.url}/api/tasks`, { body: { name: 'daily', payload: 'another request', idempotency_key: 'expiring' } });
  expect(later.status).toBe(201);
  expect(later.body.task_id).not.toBe(first.body.task_id);
  expect(await tasksWithKey('expiring')).toBe(1);
});

test('gRPC SubmitTask: 8 concurrent calls with one key make one task; the key with other data is FAILED_PRECONDITION', async () => {
  const client = createCoordinatorClient(app.coordinatorAddress);
  try {
    const request = { data: 'noop', scheduled_at: 1924992000, idempotency_key: 'grpc-key' };
    const answers = await Promise.all(Array.from({ length: 8 }, () => callUnary(client, client.SubmitTask, request, 5000)));
    expect(new Set(answers.map((a) => a.task_id)).size).toBe(1);
    expect(answers.filter((a) => a.message === 'Task submitted')).toHaveLength(1);
    expect(await tasksWithKey('grpc-key')).toBe(1);
    const error = await callUnary(client, client.SubmitTask, { ...request, data: 'sleep 1' }, 5000).catch((err: grpc.ServiceError) => err);
    expect(error).toMatchObject({ code: grpc.status.FAILED_PRECONDITION });
    const bad = await callUnary(client, client.SubmitTask, { ...request, idempotency_key: 'x\u0001' }, 5000).catch((err: grpc.ServiceError) => err);
    expect(bad).toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  } finally {
    client.close();
  }
});
