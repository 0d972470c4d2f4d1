import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger } from '../../services/common/src/logger';
import { defineTask } from '../../services/sdk/src/define-task';
import { startWorker, type Worker } from '../../services/sdk/src/worker/start-worker';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { SimulatedWorker, type SimulatedWorld } from '../helpers/simulated-worker';
import { waitFor } from '../helpers/wait';

/*
 * Cancelling tasks a worker holds, and timeouts, end to end: the scheduler's HTTP API, a real coordinator and
 * PostgreSQL, and in-process SDK workers on Connect streams. The workers beat every 5 s, so a cancel that
 * reaches the handler sooner came over the coordinator's push (CoordinatorMessage.drop), not a heartbeat.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
useSchedulerApp({ coordinatorEnv: { TASK_TIMEOUT_GRACE: '1s' } }, (running) => ({ db, app } = running));

const logger = createLogger('test', process.env.TEST_LOG ?? 'silent');
const workers: Worker[] = [];
afterEach(async () => {
  await Promise.all(workers.splice(0).map((worker) => worker.stop()));
});

async function worker(tasks: Parameters<typeof startWorker>[0]['tasks'], slots = 4): Promise<Worker> {
  const started = await startWorker({ coordinator: app.coordinatorAddress, tasks, slots, heartbeatIntervalMs: 5000, drainTimeoutMs: 200, logger });
  workers.push(started);
  await waitFor(() => started.connected, 5000, 'the worker to connect');
  return started;
}

const enqueue = async (body: Record<string, unknown>) => {
  const response = await request(`${app.url}/api/tasks`, { body });
  expect(response.status).toBe(201);
  return response.body.task_id as string;
};
const task = async (id: string) => (await request(`${app.url}/api/tasks/${id}`)).body;
const events = async (id: string) => (await request(`${app.url}/api/tasks/${id}/events`)).body.events as Array<{ type: string; message: string }>;
const TERMINAL = ['completed', 'failed', 'cancelled'];

describe('cancel', () => {
  test('a running task is stopped on its worker at once: ctx.signal aborts with the reason, the slot is freed, nothing is reported after', async () => {
    const aborted: unknown[] = [];
    let late = 0;
    const waits = defineTask({
      name: 'waits-for-cancel',
      run: async (_payload: unknown, ctx) => {
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
        aborted.push(ctx.signal.reason);
        late++;
        return 'finished after the abort';
      },
    });
    const quick = defineTask({ name: 'quick-after-cancel', run: () => 'ok' });
    const running = await worker([waits, quick], 1);
    const id = await enqueue({ name: 'waits-for-cancel' });
    await waitFor(async () => (await task(id)).status === 'running', 5000, 'the task to run');

    const cancelled = await request(`${app.url}/api/tasks/${id}/cancel`, { body: { reason: 'customer asked' } });
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ status: 'cancelled', last_error: 'customer asked' });
    await waitFor(() => aborted.length === 1, 2000, 'the handler to see the abort (before any heartbeat)');
    expect(aborted[0]).toMatchObject({ name: 'AbortError', message: 'cancelled: customer asked' });
    expect(late).toBe(1);

    // The one slot is free again: the next task runs on this worker.
    const next = await enqueue({ name: 'quick-after-cancel' });
    await waitFor(async () => (await task(next)).status === 'succeeded', 5000, 'the next task to run in the freed slot');
    expect(running.busy).toBe(0);
    const final = await task(id);
    expect(final).toMatchObject({ status: 'cancelled', last_error: 'customer asked' });
    expect(final.result).toBeUndefined();
    const timeline = await events(id);
    expect(timeline.filter((e) => TERMINAL.includes(e.type))).toEqual([expect.objectContaining({ type: 'cancelled', message: expect.stringMatching(/: customer asked$/) })]);
    const { attempts } = (await request(`${app.url}/api/tasks/${id}/events`)).body;
    expect(attempts).toEqual([expect.objectContaining({ attempt: 1, worker_id: running.id, outcome: 'cancelled', error: 'customer asked' })]);
  });

  test('a pending task is cancelled without a reason; a finished one is 409 with a message; a bad reason is 400', async () => {
    const pending = await enqueue({ name: 'nobody-runs-this', delay_seconds: 3600 });
    const cancelled = await request(`${app.url}/api/tasks/${pending}/cancel`, { method: 'POST' });
    expect(cancelled.body).toMatchObject({ status: 'cancelled', last_error: 'cancelled' });
    const again = await request(`${app.url}/api/tasks/${pending}/cancel`, { method: 'POST' });
    expect(again.status).toBe(409);
    expect(again.body.error.message).toBe(`task ${pending} is cancelled; only pending, dispatched or running tasks can be cancelled`);

    const other = await enqueue({ name: 'nobody-runs-this', delay_seconds: 3600 });
    for (const reason of ['x'.repeat(501), 'line\nbreak', 42]) {
      const bad = await request(`${app.url}/api/tasks/${other}/cancel`, { body: { reason } });
      expect(bad.status).toBe(400);
      expect(bad.body.error.field).toBe('reason');
    }
    expect((await task(other)).status).toBe('pending');
  });

  test('cancel racing completion: each task ends in exactly one terminal state, and the API says which', async () => {
    const race = defineTask({ name: 'race', run: async (payload: { ms: number }) => { await sleep(payload.ms); return 'done'; } });
    await worker([race], 40);
    const created = await request(`${app.url}/api/tasks/batch`, { body: { tasks: Array.from({ length: 40 }, (_, i) => ({ name: 'race', payload: { ms: (i * 3) % 60 } })) } });
    const ids: string[] = created.body.tasks.map((t: { task_id: string }) => t.task_id);
    // Cancels land before, during and after the runs.
    const answers = await Promise.all(ids.map(async (id, i) => {
      await sleep((i * 7) % 60);
      return request(`${app.url}/api/tasks/${id}/cancel`, { body: { reason: 'race' } });
    }));
    await waitFor(async () => {
      const { rows } = await db.pool.query("SELECT count(*)::int AS open FROM tasks WHERE id = ANY($1) AND status NOT IN ('succeeded', 'cancelled')", [ids]);
      return rows[0].open === 0;
    }, 10_000, 'every task to end');
    const outcomes = { succeeded: 0, cancelled: 0 };
    for (const [i, id] of ids.entries()) {
      const { status } = await task(id);
      const terminal = (await events(id)).filter((e) => TERMINAL.includes(e.type));
      expect(terminal).toHaveLength(1);
      expect(terminal[0].type).toBe(status === 'succeeded' ? 'completed' : 'cancelled');
      expect(answers[i].status).toBe(status === 'cancelled' ? 200 : 409);
      outcomes[status as 'succeeded' | 'cancelled']++;
    }
    expect(outcomes.cancelled).toBeGreaterThan(0);
    expect(outcomes.succeeded).toBeGreaterThan(0);
  });
});

describe('timeouts', () => {
  test('a handler that ignores its signal is reported failed at its timeout while it still runs; its late result is dropped', async () => {
    const reasons: unknown[] = [];
    let stillRunning = false;
    const stubborn = defineTask({
      name: 'stubborn',
      run: async (_payload: unknown, ctx) => {
        stillRunning = true;
        ctx.signal.addEventListener('abort', () => reasons.push(ctx.signal.reason), { once: true });
        await sleep(4000);
        stillRunning = false;
        return 'too late';
      },
    });
    await worker([stubborn]);
    const id = await enqueue({ name: 'stubborn', timeout_seconds: 1, max_attempts: 1 });
    expect((await task(id)).timeout_seconds).toBe(1);
    await waitFor(async () => (await task(id)).status === 'failed', 3500, 'the timeout to fail the task');
    expect(stillRunning).toBe(true);
    expect(reasons).toEqual([expect.objectContaining({ name: 'TimeoutError', message: 'timed out after 1 s' })]);
    expect(await task(id)).toMatchObject({ status: 'failed', last_error: 'timed out after 1 s', executions: 1 });
    await waitFor(() => !stillRunning, 5000, 'the handler to return');
    await sleep(300);
    expect((await task(id)).status).toBe('failed');
  });

  test('a task type\'s timeoutSeconds applies when the task sets none, and the timeout is retried like any failure', async () => {
    let runs = 0;
    const slow = defineTask({
      name: 'slow-type',
      timeoutSeconds: 1,
      run: async (_payload: unknown, ctx) => {
        runs++;
        await new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true }));
      },
    });
    await worker([slow]);
    const id = await enqueue({ name: 'slow-type', max_attempts: 2 });
    await waitFor(async () => (await task(id)).status === 'failed', 8000, 'both attempts to time out');
    expect(runs).toBe(2);
    expect(await task(id)).toMatchObject({ last_error: 'timed out after 1 s', executions: 2 });
    expect((await events(id)).map((e) => e.type)).toEqual(expect.arrayContaining(['retried', 'failed']));
  });

  test('the worker\'s defaultTimeoutSeconds applies when neither the task nor its type sets one', async () => {
    const waits = defineTask({ name: 'default-timeout', run: (_payload: unknown, ctx) => new Promise((resolve) => ctx.signal.addEventListener('abort', resolve, { once: true })) });
    const started = await startWorker({ coordinator: app.coordinatorAddress, tasks: [waits], slots: 1, heartbeatIntervalMs: 5000, drainTimeoutMs: 200, defaultTimeoutSeconds: 1, logger });
    workers.push(started);
    const id = await enqueue({ name: 'default-timeout', max_attempts: 1 });
    await waitFor(async () => (await task(id)).status === 'failed', 5000, 'the worker default to time the task out');
    expect((await task(id)).last_error).toBe('timed out after 1 s');
    await expect(startWorker({ coordinator: app.coordinatorAddress, tasks: [waits], defaultTimeoutSeconds: 0 })).rejects.toThrow('`defaultTimeoutSeconds` must be a whole number from 1 to 604800');
  });

  test('an attempt held past its timeout plus TASK_TIMEOUT_GRACE by a worker that does not enforce it is failed by the coordinator, and the worker told to drop it', async () => {
    const world: SimulatedWorld = {
      heartbeatMs: 200, durationMs: () => 60_000, fails: () => false, failureApplied: () => {}, executions: [], appliedReplays: [], overbooked: [],
    };
    const simulated = new SimulatedWorker(4_000_000_001, 2, () => app.coordinatorAddress, world);
    simulated.start();
    try {
      const response = await request(`${app.url}/api/schedule`, { body: { command: 'held-forever', scheduled_at: new Date().toISOString(), timeout_seconds: 1, max_attempts: 1 } });
      expect(response.status).toBe(201);
      const id = response.body.task_id;
      await waitFor(async () => (await task(id)).status === 'failed', 10_000, 'the coordinator to fail the overdue attempt');
      expect((await task(id)).last_error).toBe('timed out: still held by worker 4000000001 1 s after its 1 s timeout');
      await waitFor(() => world.executions.some((e) => e.taskId === id && e.outcome === 'dropped'), 3000, 'the worker to drop the attempt');
    } finally {
      simulated.close();
    }
  });

  test('bad timeouts are 400 naming the field, and nothing is written', async () => {
    const { rows: [before] } = await db.pool.query('SELECT count(*)::int AS n FROM tasks');
    for (const timeout_seconds of [0, -5, 1.5, 604_801, '30']) {
      const bad = await request(`${app.url}/api/tasks`, { body: { name: 'x', timeout_seconds } });
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ field: 'timeout_seconds', message: 'timeout_seconds must be a whole number from 1 to 604800' });
    }
    const batch = await request(`${app.url}/api/tasks/batch`, { body: { tasks: [{ name: 'x' }, { name: 'x', timeout_seconds: 10 ** 9 }] } });
    expect(batch.body.error.field).toBe('tasks[1].timeout_seconds');
    const { rows: [after] } = await db.pool.query('SELECT count(*)::int AS n FROM tasks');
    expect(after.n).toBe(before.n);
  });
});
