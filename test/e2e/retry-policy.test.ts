import { z } from 'zod';
import { createLogger } from '../../services/common/src/logger';
import { TaskMasterClient } from '../../services/sdk/src/client';
import { defineTask } from '../../services/sdk/src/define-task';
import { NonRetryableError } from '../../services/sdk/src/worker/runner';
import { startWorker, type Worker } from '../../services/sdk/src/worker/start-worker';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * Retry policies end to end: the scheduler's HTTP API and the SDK client, a real coordinator and PostgreSQL, and
 * an in-process SDK worker. Each attempt is read back from GET /api/tasks/:id/events (its `attempts`).
 */

let app: SchedulerUnderTest;
let client: TaskMasterClient;
let worker: Worker;
let failures = 0;
useSchedulerApp({}, (running) => {
  app = running.app;
  client = new TaskMasterClient({ url: app.url });
});

const alwaysFails = defineTask({ name: 'always-fails', run: () => { failures++; throw new Error(`failure ${failures}`); } });
const refuses = defineTask({ name: 'refuses', run: () => { throw new NonRetryableError('the account is closed'); } });
const typed = defineTask({ name: 'typed', schema: z.object({ n: z.number() }), maxAttempts: 2, retry: { backoff: 'fixed', delay_seconds: 0.2, jitter: false }, run: () => { throw new Error('boom'); } });

beforeAll(async () => {
  worker = await startWorker({ coordinator: app.coordinatorAddress, tasks: [alwaysFails, refuses, typed], slots: 4, heartbeatIntervalMs: 500, logger: createLogger('test', 'silent') });
});
afterAll(() => worker.stop());

const finished = async (id: string) => {
  await waitFor(async () => (await client.get(id)).status === 'failed', 15_000, `task ${id} to fail for good`);
  return (await request(`${app.url}/api/tasks/${id}/events`)).body as { task: { executions: number; last_error: string }; attempts: Array<{ attempt: number; outcome: string; error?: string; assigned_at: string; started_at: string; ended_at: string; worker_id: number }> };
};

test('a fixed backoff without jitter waits its delay between attempts; each attempt is listed with its worker, times, outcome and error', async () => {
  const task = await client.enqueue(alwaysFails, undefined, { maxAttempts: 3, retry: { backoff: 'fixed', delay_seconds: 0.5, jitter: false } });
  expect(task.retry).toEqual({ backoff: 'fixed', delay_seconds: 0.5, jitter: false });
  const { task: done, attempts } = await finished(task.id);
  expect(done.executions).toBe(3);
  expect(attempts.map((a) => a.outcome)).toEqual(['retried', 'retried', 'failed']);
  expect(attempts.map((a) => a.worker_id)).toEqual([worker.id, worker.id, worker.id]);
  expect(attempts.every((a) => a.error?.startsWith('failure '))).toBe(true);
  for (let i = 1; i < attempts.length; i++) {
    const waited = Date.parse(attempts[i].started_at) - Date.parse(attempts[i - 1].ended_at);
    expect(waited).toBeGreaterThanOrEqual(450);
  }
});

test('NonRetryableError fails the task for good on its first run, whatever attempts are left', async () => {
  const task = await client.enqueue(refuses, undefined, { maxAttempts: 5 });
  const { task: done, attempts } = await finished(task.id);
  expect(done).toMatchObject({ executions: 1, last_error: 'the account is closed' });
  expect(attempts).toEqual([expect.objectContaining({ attempt: 1, outcome: 'failed', error: 'the account is closed' })]);
});

test('a definition\'s maxAttempts and retry apply when enqueued with it, options win; a payload that fails the worker\'s schema is not retried', async () => {
  const task = await client.enqueue(typed, { n: 1 });
  expect(task).toMatchObject({ max_attempts: 2, retry: { backoff: 'fixed', delay_seconds: 0.2, jitter: false } });
  expect((await finished(task.id)).attempts.map((a) => a.outcome)).toEqual(['retried', 'failed']);
  const overridden = await client.enqueue(typed, { n: 2 }, { maxAttempts: 1, retry: { delay_seconds: 3 } });
  expect(overridden).toMatchObject({ max_attempts: 1, retry: { delay_seconds: 3 } });
  // Enqueued by name, past the producer's schema check: the worker's check fails it, and retrying cannot help.
  const bad = await client.enqueue('typed', { n: 'one' }, { maxAttempts: 3 });
  const { task: done } = await finished(bad.id);
  expect(done.executions).toBe(1);
  expect(done.last_error).toMatch(/^the payload does not match the schema of "typed"/);
});

test('a bad retry policy is a 400 naming the field, and defineTask refuses one at once', async () => {
  const cases: Array<[unknown, string]> = [
    [{ backoff: 'linear' }, 'retry.backoff'],
    [{ delay_seconds: -1 }, 'retry.delay_seconds'],
    [{ max_delay_seconds: 90_000 }, 'retry.max_delay_seconds'],
    [{ jitter: 'yes' }, 'retry.jitter'],
    [{ delays: 1 }, 'retry'],
    ['fast', 'retry'],
  ];
  for (const [retry, field] of cases) {
    const response = await request(`${app.url}/api/tasks`, { body: { name: 'x', retry } });
    expect(response.status).toBe(400);
    expect(response.body.error.field).toBe(field);
  }
  expect(() => defineTask({ name: 'bad-retry', retry: { backoff: 'linear' } as never, run: () => 1 })).toThrow('retry of task "bad-retry" backoff must be exponential or fixed');
  expect(() => defineTask({ name: 'bad-attempts', maxAttempts: 0, run: () => 1 })).toThrow('maxAttempts of task "bad-attempts" must be a whole number from 1 to 100');
});
