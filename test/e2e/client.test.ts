import { z } from 'zod';
import { TaskMasterClient, type TaskRef } from '../../services/sdk/src/client';
import { TaskMasterApiError, TaskPayloadError, TaskWaitTimeoutError } from '../../services/sdk/src/http/errors';
import { DEFAULT_PAYLOAD_MAX_BYTES } from '../../services/sdk/src/http/schemas';
import { countTasks, type TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/**
 * TaskMasterClient against a real scheduler (HTTP app, coordinator and PostgreSQL; the worker that runs the
 * awaited tasks is a real process started by the local scaler).
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
let client: TaskMasterClient;

useSchedulerApp({ apiToken: 'client-secret' }, (running) => {
  ({ db, app } = running);
  client = new TaskMasterClient({ url: app.url, token: 'client-secret' });
});

/** What defineTask returns, as far as the client cares: the payload type comes from the handler. */
const resize = {
  name: 'resize-image',
  queue: 'images',
  run: async (payload: { url: string; width: number }) => ({ width: payload.width }),
} satisfies TaskRef<{ url: string; width: number }, { width: number }>;

const withSchema = {
  name: 'thumbnail',
  schema: z.object({ url: z.url(), width: z.number().int().positive().default(64) }),
  run: async (payload: { url: string; width: number }) => payload.width,
};

describe('enqueue and read', () => {
  test('enqueue(name, payload, options) creates the task; get returns it with its payload', async () => {
    const before = Date.now();
    const task = await client.enqueue('send-email', { to: 'a@example.com', n: [1, 2] }, { queue: 'mail', priority: 3, maxAttempts: 5, delay: 60_000 });
    expect(task).toMatchObject({ id: task.task_id, name: 'send-email', queue: 'mail', priority: 3, max_attempts: 5, status: 'pending', payload: { to: 'a@example.com', n: [1, 2] } });
    expect(Date.parse(task.scheduled_at)).toBeGreaterThanOrEqual(before + 59_000);
    expect(await client.get(task.id)).toEqual(task);
  });

  test('a task definition gives the name, the queue and the payload type', async () => {
    const task = await client.enqueue(resize, { url: 'https://example.com/a.png', width: 32 }, { runAt: new Date('2031-01-01T00:00:00Z'), idempotencyKey: 'resize-1' });
    expect(task).toMatchObject({ name: 'resize-image', queue: 'images', scheduled_at: '2031-01-01T00:00:00.000Z' });
    const again = await client.enqueue(resize, { url: 'https://example.com/a.png', width: 32 }, { runAt: new Date('2031-01-01T00:00:00Z'), idempotencyKey: 'resize-1' });
    expect(again.id).toBe(task.id);
    // The key with another request (no runAt this time) is a conflict, not the first task.
    await expect(client.enqueue(resize, { url: 'https://example.com/a.png', width: 32 }, { idempotencyKey: 'resize-1' })).rejects.toMatchObject({ status: 409 });
    if (Date.now() < 0) {
      // Compile-time only (npm run typecheck): a payload that does not fit the definition is an error.
      // @ts-expect-error width must be a number
      await client.enqueue(resize, { url: 'x', width: 'wide' });
      // @ts-expect-error the payload is required
      await client.enqueue(resize);
      // @ts-expect-error a payload of the schema's type
      await client.enqueue(withSchema, { url: 1 });
      const done = await client.wait(task);
      const width: number | undefined = done.result?.width;
      void width;
    }
  });

  test('a definition with a schema is validated before sending, and the schema output is sent', async () => {
    const task = await client.enqueue(withSchema, { url: 'https://example.com/b.png' });
    expect(task.payload).toEqual({ url: 'https://example.com/b.png', width: 64 });
    const before = await countTasks(db);
    const error = await client.enqueue(withSchema, { url: 'not a url', width: 3 }).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TaskPayloadError);
    expect((error as TaskPayloadError).message).toMatch(/^payload for task "thumbnail" is invalid at url: /);
    expect(await countTasks(db)).toBe(before);
  });

  test('enqueueMany creates all in order, or none when one is bad', async () => {
    const tasks = await client.enqueueMany(resize, [{ url: 'u1', width: 1 }, { url: 'u2', width: 2 }, { url: 'u3', width: 3 }]);
    expect(tasks.map((task) => (task.payload as { width: number }).width)).toEqual([1, 2, 3]);
    const before = await countTasks(db);
    const error = await client.enqueueMany('big', ['small', 'x'.repeat(DEFAULT_PAYLOAD_MAX_BYTES)]).catch((err: unknown) => err);
    expect(error).toMatchObject({ name: 'TaskMasterApiError', status: 400, code: 'payload_too_large', field: 'tasks[1].payload' });
    expect(await countTasks(db)).toBe(before);
  });

  test('list filters by name, queue and status', async () => {
    const created = await client.enqueueMany('list-me', [1, 2], { queue: 'lq' });
    await client.enqueue('list-me', 3, { queue: 'other' });
    const page = await client.list({ name: 'list-me', queue: 'lq', status: ['pending'], limit: 10 });
    expect(page.tasks.map((task) => task.id).sort()).toEqual(created.map((task) => task.id).sort());
    expect(page.nextCursor).toBeNull();
    expect((await client.list({ name: 'list-me', status: 'failed' })).tasks).toEqual([]);
  });

  test('cancel and retry', async () => {
    const task = await client.enqueue('cancel-me', null, { delay: 3_600_000 });
    expect((await client.cancel(task.id)).status).toBe('cancelled');
    await expect(client.cancel(task.id)).rejects.toMatchObject({ status: 409, code: 'conflict' });
    expect((await client.retry(task.id)).status).toBe('pending');
    await client.cancel(task.id);
  });
});

describe('errors', () => {
  test('the API error carries status, code and field', async () => {
    const error = await client.enqueue('Not-A-Name', 1).catch((err: unknown) => err);
    expect(error).toBeInstanceOf(TaskMasterApiError);
    expect(error).toMatchObject({ status: 400, code: 'invalid_argument', field: 'name' });
    await expect(client.get('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404, code: 'not_found', field: 'id' });
    await expect(client.enqueue('x', 1, { runAt: new Date(), delay: 5 })).rejects.toMatchObject({ code: 'invalid_argument' });
  });

  test('without the token a request is refused with 401, reads too', async () => {
    const anonymous = new TaskMasterClient({ url: app.url });
    await expect(anonymous.enqueue('x', 1)).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
    await expect(anonymous.list()).rejects.toMatchObject({ status: 401, code: 'unauthorized' });
  });

  test('a scheduler that cannot be reached is status 0, network_error', async () => {
    const nowhere = new TaskMasterClient({ url: 'http://127.0.0.1:1' });
    await expect(nowhere.get('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 0, code: 'network_error' });
  });
});

describe('wait', () => {
  test('times out on a task that is not due, and stops when its signal aborts', async () => {
    const task = await client.enqueue('not-yet', null, { delay: 3_600_000 });
    await expect(client.wait(task.id, { timeoutMs: 300 })).rejects.toBeInstanceOf(TaskWaitTimeoutError);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('stop waiting')), 200);
    await expect(client.wait(task.id, { signal: controller.signal })).rejects.toThrow('stop waiting');
  });

  test('resolves with the result of a task that succeeds and the error of one that fails', async () => {
    const ok = await request(`${app.url}/api/schedule`, { headers: { authorization: 'Bearer client-secret' }, body: { command: 'noop', scheduled_at: new Date().toISOString() } });
    const bad = await request(`${app.url}/api/schedule`, { headers: { authorization: 'Bearer client-secret' }, body: { command: 'fail boom', scheduled_at: new Date().toISOString(), max_attempts: 1 } });
    await app.scaler.scale(1);
    const [done, failed] = await Promise.all([
      client.wait(ok.body.task_id, { timeoutMs: 30_000 }),
      client.wait(bad.body.task_id, { timeoutMs: 30_000 }),
    ]);
    expect(done).toMatchObject({ id: ok.body.task_id, status: 'succeeded' });
    expect(failed).toMatchObject({ id: bad.body.task_id, status: 'failed', error: expect.stringContaining('boom') });
  });
});
