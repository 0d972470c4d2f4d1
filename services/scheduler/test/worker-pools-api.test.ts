/**
 * The workers API per worker pool (issue 14), on the real HTTP app and a real test database: the scale and kill
 * endpoints take `pool`, GET /api/workers lists the pools and says each worker's, a pool whose replicas KEDA
 * owns is refused with 409 naming the ScaledObject, and a bad or unknown pool is a 4xx naming the field. The
 * pools' scalers are in-memory stand-ins that record what they were asked; the Kubernetes scaler itself is
 * tested on a real API server (kubernetes-scaler.test.ts, safe-scale-down.test.ts).
 */
import type { Server } from 'node:http';
import { ForbiddenError, NotFoundError } from '../../common/src/errors';
import { createLogger } from '../../common/src/logger';
import { DEFAULT_POOL, type WorkerPoolConfig } from '../../common/src/worker-pools';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { request } from '../../../test/helpers/scheduler-app';
import { createApp } from '../src/app';
import type { CoordinatorView } from '../src/coordinator-view';
import { EventFeed } from '../src/events/event-feed';
import type { RuntimeWorker, Scaler } from '../src/scaler/scaler';
import { WorkerPools } from '../src/scaler/worker-pools';

/** A scaler over a fixed set of pods, as a Deployment's would be; it records every scale and kill. */
class RecordingScaler implements Scaler {
  readonly kind = 'kubernetes' as const;
  readonly calls: string[] = [];
  constructor(private replicas: number, private readonly pods: RuntimeWorker[]) {}
  async scale(count: number) {
    const previous = this.replicas;
    this.replicas = count;
    this.calls.push(`scale ${count}`);
    return { requested: count, previous };
  }
  async kill(name: string) {
    if (!this.pods.some((pod) => pod.name === name)) throw new ForbiddenError(`pod ${name} is not a worker of this pool`, 'name');
    this.calls.push(`kill ${name}`);
  }
  lists = 0;
  async list() {
    this.lists += 1;
    return this.pods;
  }
  async desired() {
    return this.replicas;
  }
  async close() {}
}

const pod = (name: string, pool: string): RuntimeWorker => ({ name, phase: 'Running', ready: true, pool });
const autoscaler = { enabled: false, minReplicas: 1, maxReplicas: 10, cooldownMs: 60_000, tasksPerWorker: 5, maxQueueAgeMs: 0 };
const poolConfig = (name: string, over: Partial<WorkerPoolConfig> = {}): WorkerPoolConfig => ({
  name, deployment: name === DEFAULT_POOL ? 'tm-taskmaster-worker' : `tm-taskmaster-worker-${name}`,
  selector: { 'taskmaster.dev/pool': name }, queues: [], tasks: [], autoscaler, ...over,
});

let db: TestDatabase;
let feed: EventFeed;
let server: Server;
let url: string;
const defaultPods = [pod('tm-taskmaster-worker-a', 'default')];
const reportsPods = [pod('tm-taskmaster-worker-reports-b', 'reports')];
const gpuPods = [pod('tm-taskmaster-worker-gpu-c', 'gpu')];
const scalers = {
  default: new RecordingScaler(1, defaultPods),
  reports: new RecordingScaler(1, reportsPods),
  gpu: new RecordingScaler(2, gpuPods),
};
const anyWorker = new RecordingScaler(0, [...defaultPods, ...reportsPods, ...gpuPods]);
const coordinator: CoordinatorView = {
  listWorkers: async () => [{
    workerId: 7, address: '', name: 'tm-taskmaster-worker-reports-b', slots_total: 5, slots_busy: 2, heartbeat_misses: 0,
    last_heartbeat_ms: Date.now(), draining: false, in_flight: 2, handles: [], command_tasks: true, queues: ['reports'],
  }],
  close: () => undefined,
};

beforeAll(async () => {
  db = await createTestDatabase();
  const logger = createLogger('test', 'silent');
  feed = new EventFeed({ pool: db.pool, database: db.config, logger });
  const workerPools = new WorkerPools([
    { config: poolConfig(DEFAULT_POOL), scaler: scalers.default },
    { config: poolConfig('reports', { queues: ['reports'], autoscaler: { ...autoscaler, enabled: true, maxReplicas: 4 } }), scaler: scalers.reports },
    { config: poolConfig('gpu', { tasks: ['render'], keda: { scaledObject: 'tm-taskmaster-worker-gpu' } }), scaler: scalers.gpu },
  ], anyWorker);
  const app = createApp({ pool: db.pool, logger, feed, coordinator, scaler: anyWorker, workerPools, apiToken: undefined, sseKeepAliveMs: 15_000 });
  server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
});

afterAll(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve));
  await feed?.close();
  await db?.drop();
});

test('GET /api/workers lists every pool with its owner, and each worker with its pool and queues', async () => {
  const response = await request(`${url}/api/workers`);
  expect(response.status).toBe(200);
  expect(response.body.pools).toEqual([
    { name: 'default', deployment: 'tm-taskmaster-worker', owner: 'manual', desired: 1, actual: 1, queues: [], tasks: [] },
    { name: 'reports', deployment: 'tm-taskmaster-worker-reports', owner: 'autoscaler', desired: 1, actual: 1, queues: ['reports'], tasks: [], min_replicas: 1, max_replicas: 4 },
    { name: 'gpu', deployment: 'tm-taskmaster-worker-gpu', owner: 'keda', scaled_object: 'tm-taskmaster-worker-gpu', desired: 2, actual: 1, queues: [], tasks: ['render'] },
  ]);
  expect(response.body.scaler).toEqual({ kind: 'kubernetes', desired: 1, actual: 1 });
  const byName = Object.fromEntries(response.body.workers.map((w: { name: string }) => [w.name, w]));
  expect(byName['tm-taskmaster-worker-reports-b']).toMatchObject({ pool: 'reports', queues: ['reports'], slots_busy: 2, state: 'alive' });
  expect(byName['tm-taskmaster-worker-gpu-c']).toMatchObject({ pool: 'gpu', state: 'starting' });
});

test('POST /api/workers/scale scales the named pool, the default one without a name, and records which', async () => {
  expect((await request(`${url}/api/workers/scale`, { body: { count: 3, pool: 'reports' } })).body)
    .toEqual({ scaler: 'kubernetes', pool: 'reports', requested: 3, previous: 1 });
  expect((await request(`${url}/api/workers/scale`, { body: { count: 2 } })).body)
    .toEqual({ scaler: 'kubernetes', pool: 'default', requested: 2, previous: 1 });
  expect(scalers.reports.calls).toContain('scale 3');
  expect(scalers.default.calls).toContain('scale 2');
  const { rows } = await db.pool.query<{ message: string }>(`SELECT message FROM events WHERE type = 'scale' ORDER BY id`);
  expect(rows.map((row) => row.message)).toEqual([
    expect.stringMatching(/^workers of pool reports scaled to 3 \(kubernetes, was 1\)/),
    expect.stringMatching(/^workers scaled to 2 \(kubernetes, was 1\)/),
  ]);
});

test('refuses to scale a pool whose replicas KEDA owns, with 409 naming the ScaledObject, and changes nothing', async () => {
  const response = await request(`${url}/api/workers/scale`, { body: { count: 5, pool: 'gpu' } });
  expect(response.status).toBe(409);
  expect(response.body.error.code).toBe('conflict');
  expect(response.body.error.message).toMatch(/replicas of worker pool "gpu" are owned by KEDA \(ScaledObject tm-taskmaster-worker-gpu\)/);
  expect(response.body.error.message).toMatch(/workerPools\.gpu\.keda/);
  expect(scalers.gpu.calls).toEqual([]);
});

test.each([
  [{ count: 2, pool: 'Reports_1' }, 400, 'invalid_argument'],
  [{ count: 2, pool: 7 }, 400, 'invalid_argument'],
  [{ count: 2, pool: 'nightly' }, 404, 'not_found'],
])('POST /api/workers/scale refuses %j, naming pool', async (body, status, code) => {
  const response = await request(`${url}/api/workers/scale`, { body });
  expect(response.status).toBe(status);
  expect(response.body.error).toMatchObject({ code, field: 'pool' });
});

test("POST /api/workers/kill checks the pod against the named pool's scaler, or any worker's without a pool", async () => {
  expect((await request(`${url}/api/workers/kill`, { body: { name: 'tm-taskmaster-worker-reports-b', pool: 'reports' } })).body)
    .toEqual({ scaler: 'kubernetes', pool: 'reports', killed: 'tm-taskmaster-worker-reports-b' });
  expect(scalers.reports.calls).toContain('kill tm-taskmaster-worker-reports-b');
  // A pod of another pool is not this pool's to kill.
  const wrongPool = await request(`${url}/api/workers/kill`, { body: { name: 'tm-taskmaster-worker-a', pool: 'reports' } });
  expect(wrongPool.status).toBe(403);
  expect(scalers.default.calls.filter((call) => call.startsWith('kill'))).toEqual([]);
  // KEDA owns the count, not the pods: killing one of its workers is allowed (the ReplicaSet replaces it).
  expect((await request(`${url}/api/workers/kill`, { body: { name: 'tm-taskmaster-worker-gpu-c' } })).status).toBe(200);
  expect(anyWorker.calls).toContain('kill tm-taskmaster-worker-gpu-c');
  const unknown = await request(`${url}/api/workers/kill`, { body: { name: 'tm-taskmaster-worker-a', pool: 'nightly' } });
  expect(unknown.status).toBe(404);
  expect(unknown.body.error.field).toBe('pool');
});

test('NotFoundError for an unknown pool names the pools there are', () => {
  const pools = WorkerPools.single(anyWorker);
  expect(() => pools.get('reports')).toThrow(NotFoundError);
  expect(() => pools.get('reports')).toThrow(/pools: default/);
  expect(pools.get(undefined).config.name).toBe('default');
});

test('GET /api/workers with a single pool lists its pods once', async () => {
  const only = new RecordingScaler(1, defaultPods);
  const logger = createLogger('test', 'silent');
  const app = createApp({ pool: db.pool, logger, feed, coordinator, scaler: only, sseKeepAliveMs: 15_000 });
  const single: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  try {
    const response = await request(`http://127.0.0.1:${(single.address() as { port: number }).port}/api/workers`);
    expect(response.body.pools.map((p: { name: string; actual: number }) => [p.name, p.actual])).toEqual([['default', 1]]);
    expect(only.lists).toBe(1);
  } finally {
    single.closeAllConnections();
    await new Promise((resolve) => single.close(resolve));
  }
});
