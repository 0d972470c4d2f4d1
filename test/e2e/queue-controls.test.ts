import * as grpc from '@grpc/grpc-js';
import { callUnary, createCoordinatorClient } from '../../services/common/src/grpc/contract';
import { createLogger } from '../../services/common/src/logger';
import { TaskMasterClient } from '../../services/sdk/src/client';
import { defineTask, type TaskDefinition } from '../../services/sdk/src/define-task';
import { startWorker, type Worker } from '../../services/sdk/src/worker/start-worker';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * Queue controls and concurrency limits per key (docs/queues.md) end to end: the scheduler's API and the SDK
 * client set them, a real coordinator claims under them from PostgreSQL, and in-process SDK workers with more
 * slots than the limits allow run the tasks, counting how many run at once.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;
let client: TaskMasterClient;
useSchedulerApp({}, (running) => {
  ({ db, app } = running);
  client = new TaskMasterClient({ url: app.url });
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Counts tasks in flight per group as a handler runs, and the most seen at once. */
class Concurrency {
  private readonly now = new Map<string, number>();
  readonly peak = new Map<string, number>();
  private total = 0;
  /** The most in flight at once over every group together. */
  peakTotal = 0;
  starts: number[] = [];
  done = 0;

  async run(group: string, ms: number): Promise<void> {
    this.starts.push(Date.now());
    const count = (this.now.get(group) ?? 0) + 1;
    this.now.set(group, count);
    this.peak.set(group, Math.max(this.peak.get(group) ?? 0, count));
    this.total += 1;
    this.peakTotal = Math.max(this.peakTotal, this.total);
    await sleep(ms);
    this.total -= 1;
    this.now.set(group, (this.now.get(group) ?? 1) - 1);
    this.done += 1;
  }
}

async function withWorkers<T>(tasks: TaskDefinition<any, any>[], body: () => Promise<T>, workers = 2): Promise<T> {
  const started: Worker[] = [];
  for (let i = 0; i < workers; i += 1) {
    started.push(await startWorker({ coordinator: app.coordinatorAddress, tasks, slots: 20, heartbeatIntervalMs: 200, logger: createLogger('test', 'silent') }));
  }
  try {
    return await body();
  } finally {
    await Promise.all(started.map((worker) => worker.stop()));
  }
}

async function statusCounts(name: string): Promise<Record<string, number>> {
  const { rows } = await db.pool.query('SELECT status, count(*)::int AS n FROM tasks WHERE name = $1 GROUP BY status', [name]);
  return Object.fromEntries(rows.map((row: { status: string; n: number }) => [row.status, row.n]));
}

test('one at a time per customer under load, declared by the task type: every key keeps its limit, keys run side by side', async () => {
  const seen = new Concurrency();
  const charge = defineTask({
    name: 'charge',
    concurrency: { key: 'customer.id', limit: 1 },
    run: async (payload: { customer: { id: string } }) => seen.run(payload.customer.id, 20),
  });
  await withWorkers([charge], async () => {
    // The declaration arrives with the workers' first heartbeat.
    await waitFor(async () => (await client.listConcurrencyLimits()).length === 1, 10_000, 'the declared limit saved');
    const customers = ['c1', 'c2', 'c3', 'c4', 'c5'];
    await client.enqueueMany(charge, Array.from({ length: 150 }, (_, i) => ({ customer: { id: customers[i % 5] } })));
    await waitFor(() => seen.done === 150, 60_000, () => `150 charges ran; ran ${seen.done}`);
  });
  for (const customer of ['c1', 'c2', 'c3', 'c4', 'c5']) expect(seen.peak.get(customer)).toBe(1);
  expect(seen.peakTotal).toBeGreaterThan(1);
  const [limit] = await client.listConcurrencyLimits();
  expect(limit).toMatchObject({ name: 'charge', key: 'customer.id', max_running: 1, source: 'worker', running: 0, keys_at_limit: 0 });
  expect(await statusCounts('charge')).toEqual({ succeeded: 150 });
});

test('a queue\'s max_running holds across workers; pausing stops new starts until it is resumed', async () => {
  const seen = new Concurrency();
  const report = defineTask({ name: 'report', queue: 'reports', run: async () => seen.run('reports', 30) });
  await withWorkers([report], async () => {
    expect(await client.setQueue('reports', { max_running: 3 })).toMatchObject({ name: 'reports', max_running: 3, paused: false });
    await client.enqueueMany(report, Array.from({ length: 40 }, (_, i) => ({ i })));
    await waitFor(() => seen.done === 40, 30_000, () => `40 reports ran; ran ${seen.done}`);
    expect(seen.peakTotal).toBe(3);

    expect((await client.pauseQueue('reports')).paused).toBe(true);
    await client.enqueueMany(report, [1, 2, 3, 4, 5]);
    await sleep(1000);
    expect(seen.done).toBe(40);
    expect(await client.listQueues()).toEqual([expect.objectContaining({ name: 'reports', paused: true, pending: 5, running: 0 })]);
    expect((await client.resumeQueue('reports')).paused).toBe(false);
    await waitFor(() => seen.done === 45, 10_000, () => `the 5 paused reports ran; ran ${seen.done - 40}`);
  });
  await client.resetQueue('reports');
  expect(await client.listQueues()).toEqual([]);
});

test('a queue\'s max_per_second spaces the starts: a second\'s burst, then the rate', async () => {
  const seen = new Concurrency();
  const mail = defineTask({ name: 'mail', queue: 'mail', run: async () => seen.run('mail', 1) });
  await client.setQueue('mail', { max_per_second: 5 });
  await withWorkers([mail], async () => {
    await client.enqueueMany(mail, Array.from({ length: 15 }, (_, i) => ({ i })));
    await waitFor(() => seen.done === 15, 20_000, () => `15 mails sent; sent ${seen.done}`);
  }, 1);
  // 5 tokens at once, then one every 200 ms: the last 10 need two seconds at least.
  const starts = [...seen.starts].sort((a, b) => a - b);
  expect(starts[14] - starts[0]).toBeGreaterThanOrEqual(1800);
  await client.resetQueue('mail');
});

test('bad controls are refused with a 400 naming the field, and nothing is written', async () => {
  const put = (path: string, body: unknown) => request(`${app.url}${path}`, { method: 'PUT', body });
  const cases: Array<[string, unknown, string]> = [
    ['/api/queues/default', { paused: true }, 'name'],
    ['/api/queues/Bad%20Queue', { paused: true }, 'name'],
    ['/api/queues/q1', { max_running: 0 }, 'max_running'],
    ['/api/queues/q1', { max_running: 1.5 }, 'max_running'],
    ['/api/queues/q1', { max_per_second: '10' }, 'max_per_second'],
    ['/api/queues/q1', { max_per_second: 2_000_000 }, 'max_per_second'],
    ['/api/queues/q1', { paused: 'yes' }, 'paused'],
    ['/api/concurrency-limits/charge-card', { key: 'customer..id', max_running: 1 }, 'key'],
    ['/api/concurrency-limits/charge-card', { key: 'customer_id', max_running: -1 }, 'max_running'],
    ['/api/concurrency-limits/charge-card', { max_running: 1 }, 'key'],
    ['/api/concurrency-limits/Charge', { key: 'customer_id', max_running: 1 }, 'name'],
  ];
  for (const [path, body, field] of cases) {
    const response = await put(path, body);
    expect({ path, body, status: response.status, field: response.body.error?.field }).toEqual({ path, body, status: 400, field });
  }
  expect(await client.listQueues()).toEqual([]);
  expect((await client.listConcurrencyLimits()).map((limit) => limit.name)).not.toContain('charge-card');
  expect((await request(`${app.url}/api/queues/none/resume`, { method: 'POST' })).status).toBe(404);
  expect((await request(`${app.url}/api/queues/none`, { method: 'DELETE' })).status).toBe(404);
  expect((await request(`${app.url}/api/concurrency-limits/none`, { method: 'DELETE' })).status).toBe(404);
});

test('a limit set over the API keys the backlog already waiting, and removing it lets the rest run freely', async () => {
  await client.enqueueMany('export', Array.from({ length: 12 }, (_, i) => ({ account: `a${i % 2}`, i })));
  const created = await client.setConcurrencyLimit('export', { key: 'account', max_running: 2 });
  expect(created).toMatchObject({ name: 'export', key: 'account', max_running: 2, keys: 2, source: 'api' });
  const seen = new Concurrency();
  let release: () => void = () => undefined;
  const gate = new Promise<void>((resolve) => { release = resolve; });
  const exportTask = defineTask({ name: 'export', run: async (payload: { account: string }) => { await gate; await seen.run(payload.account, 1); } });
  await withWorkers([exportTask], async () => {
    await waitFor(async () => (await statusCounts('export')).running === 4, 10_000, 'two per account running');
    await sleep(300);
    expect((await statusCounts('export')).running).toBe(4);
    expect((await client.listConcurrencyLimits()).find((limit) => limit.name === 'export')).toMatchObject({ keys_at_limit: 2, running: 4 });
    await client.removeConcurrencyLimit('export');
    await waitFor(async () => (await statusCounts('export')).running === 12, 10_000, 'every export running once the limit is gone');
    release();
    await waitFor(() => seen.done === 12, 10_000, 'every export done');
  });
});

test('a worker declaring a bad concurrency limit when it joins is refused with INVALID_ARGUMENT naming it, and nothing is saved', async () => {
  const grpcClient = createCoordinatorClient(app.coordinatorAddress);
  try {
    const concurrency_limits = [{ name: 'bad-declared', key: 'customer', max_running: 0 }];
    const error = await callUnary(grpcClient, grpcClient.SendHeartbeat, { workerId: 4_000_000_003, address: '127.0.0.1:1', slots_total: 1, concurrency_limits }, 5000)
      .catch((err: grpc.ServiceError) => err);
    expect(error).toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: expect.stringMatching(/^concurrency_limits\[0\]\.max_running must be a whole number/) });
    expect((await client.listConcurrencyLimits()).map((limit) => limit.name)).not.toContain('bad-declared');
  } finally {
    grpcClient.close();
  }
});
