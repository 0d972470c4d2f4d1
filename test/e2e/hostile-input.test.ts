import * as grpc from '@grpc/grpc-js';
import { callUnary, createCoordinatorClient, type UpdateTaskStatusBatchRequest } from '../../services/common/src/grpc/contract';
import { startTestCoordinator } from '../helpers/coordinator';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/*
 * Hostile input at the HTTP API (a first part of the security issue): a body that is not JSON on a JSON route is
 * 415, numbers too large for the database are 400 naming the parameter, and control characters never reach a
 * command. Each answer is a JSON error, never a 5xx.
 */

let app: SchedulerUnderTest;
let db: TestDatabase;
useSchedulerApp({}, (running) => ({ app, db } = running));

test('a non-JSON body on a JSON route is 415 with a JSON error; an empty body is still fine where the body is optional', async () => {
  const response = await fetch(`${app.url}/api/tasks`, { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'name=x' });
  expect(response.status).toBe(415);
  expect(await response.json()).toEqual({ error: { code: 'unsupported_media_type', message: 'the body must be JSON (Content-Type: application/json); got text/plain' } });
  const form = await fetch(`${app.url}/schedule`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'command=x' });
  expect(form.status).toBe(415);
  const created = await request(`${app.url}/api/tasks`, { body: { name: 'empty-body-cancel', delay_seconds: 3600 } });
  const cancelled = await fetch(`${app.url}/api/tasks/${created.body.task_id}/cancel`, { method: 'POST' });
  expect(cancelled.status).toBe(200);
});

test('numeric query parameters beyond what the database holds are 400, not 500', async () => {
  for (const url of ['/api/logs?after=99999999999999999999999', '/api/tasks?limit=99999999999999999999999']) {
    const response = await request(`${app.url}${url}`);
    expect({ url, status: response.status }).toEqual({ url, status: 400 });
    expect(response.body.error.field).toBeDefined();
  }
});

test('control characters in a command are refused with a 400 naming it (gRPC SubmitTask: INVALID_ARGUMENT)', async () => {
  for (const command of ['sleep 1\nrm -rf /', 'noop\u0007', 'a\u001b[31m']) {
    const response = await request(`${app.url}/api/schedule`, { body: { command, scheduled_at: '2031-01-01T00:00:00Z' } });
    expect(response.status).toBe(400);
    expect(response.body.error).toMatchObject({ field: 'command', message: 'command must not contain control characters' });
  }
  const client = createCoordinatorClient(app.coordinatorAddress);
  try {
    const error = await callUnary(client, client.SubmitTask, { data: 'noop\nsleep 9', scheduled_at: 0, idempotency_key: '' }, 5000).catch((err: grpc.ServiceError) => err);
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'data must not contain control characters' });
  } finally {
    client.close();
  }
});

test('a peer announcing more slots than a worker may have, or a report batch beyond that, gets INVALID_ARGUMENT; others are unaffected', async () => {
  const client = createCoordinatorClient(app.coordinatorAddress);
  try {
    const greedy = await callUnary(client, client.SendHeartbeat, { workerId: 4_000_000_010, address: '127.0.0.1:1', slots_total: 4_000_000_000 }, 5000)
      .catch((err: grpc.ServiceError) => err);
    expect(greedy).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'slots_total must be at most 100000' });
    const report = { task_id: '00000000-0000-4000-8000-000000000000', status: 'COMPLETED', attempt: 1, worker_id: 4_000_000_010 };
    const flood = { updates: Array.from({ length: 100_001 }, () => report) } as unknown as UpdateTaskStatusBatchRequest;
    // 100,001 reports take more than the 4 MiB a message may: refused before it is even decoded.
    const refused = await callUnary(client, client.UpdateTaskStatuses, flood, 20_000).catch((err: grpc.ServiceError) => err);
    expect(refused).toMatchObject({ code: grpc.status.RESOURCE_EXHAUSTED });
    // With a larger message limit the count itself is refused.
    const roomy = await startTestCoordinator(db, { GRPC_MAX_MESSAGE_BYTES: String(16 * 1024 * 1024) });
    try {
      const counted = await callUnary(roomy.client, roomy.client.UpdateTaskStatuses, flood, 20_000).catch((err: grpc.ServiceError) => err);
      expect(counted).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^updates lists 100001 reports; a batch holds at most 100000/) });
    } finally {
      await roomy.stop();
    }
    // Nothing of it registered; an honest worker still joins.
    const honest = await callUnary(client, client.SendHeartbeat, { workerId: 4_000_000_011, address: '127.0.0.1:1', slots_total: 10 }, 5000);
    expect(honest).toMatchObject({ acknowledged: true });
  } finally {
    client.close();
  }
});
