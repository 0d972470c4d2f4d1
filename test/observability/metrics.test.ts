import { spawnSync } from 'node:child_process';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { metricsUrl, requireBinary, scrape, scrapeText, sumOf, type Sample } from '../helpers/metrics';
import { startCluster, type Cluster, type ServiceProcess } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * The metrics are correct, not decorative: real processes run a known workload, and the counters and
 * histograms move by exactly what it implies. Scraped before and after; every number below is a delta.
 */

jest.setTimeout(180_000);

let db: TestDatabase;
let cluster: Cluster;
let coordinatorMetrics: string;
let schedulerMetrics: string;
const workerMetrics = new Map<ServiceProcess, string>();

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${cluster.schedulerUrl}${path}`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify(body),
  });
}

async function addWorker(): Promise<ServiceProcess> {
  const worker = await cluster.addWorker();
  workerMetrics.set(worker, await metricsUrl(worker));
  return worker;
}

async function scrapeWorkers(): Promise<Sample[]> {
  const alive = [...workerMetrics].filter(([worker]) => worker.child.exitCode === null && worker.child.signalCode === null);
  return (await Promise.all(alive.map(([, url]) => scrape(url)))).flat();
}

async function countTasks(condition: string): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE ${condition}`);
  return rows[0].n;
}

const delta = (before: Sample[], after: Sample[], name: string, labels: Record<string, string> = {}) =>
  sumOf(after, name, labels) - sumOf(before, name, labels);

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 0, scheduler: true });
  coordinatorMetrics = await metricsUrl(cluster.coordinator);
  schedulerMetrics = `${cluster.schedulerUrl}/metrics`;
});

afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
});

test('a workload of 50 tasks, 10 of them failing twice, moves every task counter and histogram exactly', async () => {
  const coordinatorBefore = await scrape(coordinatorMetrics);
  const schedulerBefore = await scrape(schedulerMetrics);

  expect((await post('/api/schedule/batch', { command: 'noop', count: 40 })).status).toBe(201);
  expect((await post('/api/schedule/batch', { command: 'fail on purpose', count: 10, max_attempts: 2 })).status).toBe(201);
  const scheduledAt = Date.now();

  // No worker yet: all 50 wait in the queue, and the sampled gauges say so.
  await waitFor(async () => sumOf(await scrape(coordinatorMetrics), 'taskmaster_queue_depth_tasks') === 50, 60_000, 'queue depth 50');
  expect(sumOf(await scrape(coordinatorMetrics), 'taskmaster_queue_oldest_due_age_seconds')).toBeGreaterThan(0);
  // The alerts' own gauges (charts: metrics.prometheusRule): the database answers, and nothing hangs dispatched.
  expect(sumOf(await scrape(coordinatorMetrics), 'taskmaster_database_up')).toBe(1);
  expect(sumOf(await scrape(coordinatorMetrics), 'taskmaster_tasks_stuck_dispatched')).toBe(0);
  const queuedMs = Date.now() - scheduledAt;

  await addWorker();
  await addWorker();
  await waitFor(async () => (await countTasks(`status IN ('succeeded', 'failed')`)) === 50, 60_000, 'all 50 tasks finished');
  await waitFor(async () => sumOf(await scrape(coordinatorMetrics), 'taskmaster_queue_depth_tasks') === 0, 60_000, 'the queue gauge back at 0');
  await waitFor(async () => sumOf(await scrape(coordinatorMetrics), 'taskmaster_worker_slots_busy') === 0, 60_000, 'every slot free');

  const coordinator = await scrape(coordinatorMetrics);
  const scheduler = await scrape(schedulerMetrics);
  const workers = await scrapeWorkers();

  // 50 tasks; 40 succeed at once, 10 fail, are retried once, and fail for good: 60 attempts.
  expect(delta(schedulerBefore, scheduler, 'taskmaster_tasks_created_total')).toBe(50);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_dispatched_total')).toBe(60);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_started_total')).toBe(60);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_succeeded_total')).toBe(40);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_retried_total')).toBe(10);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_failed_total')).toBe(10);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_tasks_reassigned_total')).toBe(0);
  // Every dispatched task was in exactly one claim.
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_dispatch_batch_size_tasks_sum')).toBe(60);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_dispatch_batch_size_tasks_count')).toBeGreaterThanOrEqual(1);

  // The workers observed each attempt once: when it started, and how it ended.
  expect(sumOf(workers, 'taskmaster_schedule_to_start_seconds_count')).toBe(60);
  expect(sumOf(workers, 'taskmaster_schedule_to_start_seconds_bucket', { le: '+Inf' })).toBe(60);
  expect(sumOf(workers, 'taskmaster_task_run_duration_seconds_count', { outcome: 'succeeded' })).toBe(40);
  expect(sumOf(workers, 'taskmaster_task_run_duration_seconds_count', { outcome: 'failed' })).toBe(20);
  // The 50 first attempts were due before scheduledAt and could not start before a worker existed.
  expect(sumOf(workers, 'taskmaster_schedule_to_start_seconds_sum')).toBeGreaterThanOrEqual((50 * queuedMs) / 1000);

  expect(sumOf(coordinator, 'taskmaster_workers_alive')).toBe(2);
  expect(sumOf(coordinator, 'taskmaster_worker_slots')).toBe(10);
  expect(sumOf(coordinator, 'taskmaster_heartbeats_received_total')).toBeGreaterThan(0);

  // gRPC: the workers' Connect streams carry their heartbeats and reports; the coordinator counts and times each
  // message as a request of its own (Connect.heartbeat, Connect.reports).
  const reported = delta(coordinatorBefore, coordinator, 'taskmaster_grpc_server_requests_total', { method: 'Connect.reports', code: 'OK' });
  expect(reported).toBeGreaterThan(0);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_grpc_server_request_duration_seconds_count', { method: 'Connect.reports' })).toBe(reported);
  expect(delta(coordinatorBefore, coordinator, 'taskmaster_grpc_server_requests_total', { method: 'Connect.heartbeat', code: 'OK' })).toBeGreaterThan(0);

  // HTTP: by route template.
  expect(delta(schedulerBefore, scheduler, 'taskmaster_http_requests_total', { method: 'POST', route: '/api/schedule/batch', status: '201' })).toBe(2);

  // Every series carries the service that exports it.
  for (const [name, samples] of [['coordinator', coordinator], ['scheduler', scheduler], ['worker', workers]] as const) {
    expect(samples.every((s) => s.labels.service === name)).toBe(true);
    expect(sumOf(samples, 'process_cpu_seconds_total')).toBeGreaterThan(0);
  }
});

test('an evicted worker: one eviction, its task reassigned once and run again elsewhere', async () => {
  const before = await scrape(coordinatorMetrics);
  const response = await post('/api/schedule', { command: 'sleep 2', scheduled_at: new Date().toISOString() });
  const { task_id: taskId } = (await response.json()) as { task_id: string };
  await waitFor(async () => (await countTasks(`id = '${taskId}' AND status = 'running'`)) === 1, 60_000, 'the task running');
  const { rows } = await db.pool.query<{ worker_id: number }>('SELECT worker_id FROM tasks WHERE id = $1', [taskId]);
  const holder = cluster.workers.find((w) => w.logs.some((l) => l.msg === 'worker started' && l.worker_id === rows[0].worker_id))!;
  holder.child.kill('SIGKILL');
  await holder.exited;

  await waitFor(async () => (await countTasks(`id = '${taskId}' AND status = 'succeeded'`)) === 1, 60_000, 'the task done on the other worker');
  await waitFor(async () => delta(before, await scrape(coordinatorMetrics), 'taskmaster_worker_evictions_total') === 1, 60_000, 'the eviction counted');
  const after = await scrape(coordinatorMetrics);
  // Eviction normally hands the task back; the lease sweep may get there first on a busy machine.
  expect(delta(before, after, 'taskmaster_tasks_reassigned_total', { reason: 'evicted' })
    + delta(before, after, 'taskmaster_tasks_reassigned_total', { reason: 'lease_expired' })).toBe(1);
  expect(delta(before, after, 'taskmaster_tasks_dispatched_total')).toBe(2);
  expect(delta(before, after, 'taskmaster_tasks_started_total')).toBe(2);
  expect(delta(before, after, 'taskmaster_tasks_succeeded_total')).toBe(1);
  expect(sumOf(after, 'taskmaster_workers_alive')).toBe(1);
  expect(sumOf(after, 'taskmaster_worker_slots')).toBe(5);
});

test('the scheduler counts cancellations, HTTP routes by template, log stream clients and scaler operations', async () => {
  const before = await scrape(schedulerMetrics);

  const future = new Date(Date.now() + 3_600_000).toISOString();
  const { task_id: taskId } = (await (await post('/api/schedule', { command: 'noop', scheduled_at: future })).json()) as { task_id: string };
  expect((await post(`/api/tasks/${taskId}/cancel`, {})).status).toBe(200);
  expect((await post(`/api/tasks/${taskId}/cancel`, {})).status).toBe(409);
  expect((await fetch(`${cluster.schedulerUrl}/api/tasks/00000000-0000-4000-8000-000000000000`)).status).toBe(404);
  expect((await fetch(`${cluster.schedulerUrl}/api/no-such-route`)).status).toBe(404);

  const stream = new AbortController();
  const streaming = await fetch(`${cluster.schedulerUrl}/api/logs/stream`, { signal: stream.signal });
  expect(streaming.status).toBe(200);
  await waitFor(async () => sumOf(await scrape(schedulerMetrics), 'taskmaster_sse_clients') === 1, 60_000, 'one log stream client');
  stream.abort();
  await waitFor(async () => sumOf(await scrape(schedulerMetrics), 'taskmaster_sse_clients') === 0, 60_000, 'no log stream client');

  expect((await post('/api/workers/kill', { name: 'no-such-worker' })).status).toBe(404);
  expect((await post('/api/workers/scale', { count: 1 })).status).toBe(200);
  // Refused by validation: the scaler is never asked, so it is no scaler operation.
  expect((await post('/api/workers/scale', { count: 0 })).status).toBe(400);

  const after = await scrape(schedulerMetrics);
  const d = (name: string, labels: Record<string, string>) => delta(before, after, name, labels);
  expect(d('taskmaster_tasks_created_total', {})).toBe(1);
  expect(d('taskmaster_tasks_cancelled_total', {})).toBe(1);
  expect(d('taskmaster_http_requests_total', { method: 'POST', route: '/api/tasks/:id/cancel', status: '200' })).toBe(1);
  expect(d('taskmaster_http_requests_total', { method: 'POST', route: '/api/tasks/:id/cancel', status: '409' })).toBe(1);
  expect(d('taskmaster_http_requests_total', { method: 'GET', route: '/api/tasks/:id', status: '404' })).toBe(1);
  expect(d('taskmaster_http_requests_total', { method: 'GET', route: 'unmatched', status: '404' })).toBe(1);
  expect(d('taskmaster_http_requests_total', { method: 'GET', route: '/api/logs/stream', status: '200' })).toBe(1);
  // No series is ever labelled with a raw path.
  expect(after.filter((s) => s.name === 'taskmaster_http_requests_total' && /[0-9a-f]{8}-/.test(s.labels.route))).toEqual([]);
  expect(d('taskmaster_scaler_operations_total', { backend: 'local', operation: 'kill', outcome: 'rejected' })).toBe(1);
  expect(d('taskmaster_scaler_operations_total', { backend: 'local', operation: 'scale', outcome: 'ok' })).toBe(1);
  expect(d('taskmaster_scaler_operations_total', { backend: 'local', operation: 'scale', outcome: 'rejected' })).toBe(0);
  expect(d('taskmaster_scaler_operations_total', { outcome: 'error' })).toBe(0);
});

test('promtool accepts every service\'s exposition without a lint finding', async () => {
  const promtool = requireBinary('promtool', 'prometheus');
  if (!promtool) return;
  const workerUrls = [...workerMetrics].filter(([w]) => w.child.exitCode === null && w.child.signalCode === null).map(([, url]) => url);
  for (const url of [schedulerMetrics, coordinatorMetrics, ...workerUrls]) {
    const result = spawnSync(promtool, ['check', 'metrics'], { input: await scrapeText(url), encoding: 'utf8' });
    expect({ url, status: result.status, output: `${result.stdout}${result.stderr}`.trim() }).toEqual({ url, status: 0, output: '' });
  }
});
