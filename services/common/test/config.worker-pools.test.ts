import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

/** WORKER_POOLS, WORKER_QUEUES and WORKER_TASKS (docs/configuration.md, "Worker pools"). */

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return [...err.problems];
    throw err;
  }
  return [];
};

const pools = (value: unknown) => ({ WORKER_POOLS: JSON.stringify(value) });
const defaultPool = { name: 'default', deployment: 'tm-taskmaster-worker', selector: 'app.kubernetes.io/component=worker,taskmaster.dev/pool=default' };

describe('WORKER_POOLS', () => {
  test('without it: one pool, default, from WORKER_DEPLOYMENT, WORKER_SELECTOR and AUTOSCALER_*, as before pools', () => {
    const config = loadConfig({ WORKER_DEPLOYMENT: 'w', WORKER_SELECTOR: 'a=b', AUTOSCALER_ENABLED: 'true', AUTOSCALER_MAX_REPLICAS: '7', AUTOSCALER_COOLDOWN: '30s' });
    expect(config.workerPools).toEqual([{
      name: 'default', deployment: 'w', selector: { a: 'b' }, queues: [], tasks: [],
      autoscaler: { enabled: true, minReplicas: 1, maxReplicas: 7, cooldownMs: 30_000, tasksPerWorker: 5, maxQueueAgeMs: 0 },
    }]);
  });

  test('reads every pool the chart renders: deployment, selector, queues, names, bounds, KEDA', () => {
    const config = loadConfig(pools([
      defaultPool,
      {
        name: 'reports', deployment: 'tm-taskmaster-worker-reports', selector: 'taskmaster.dev/pool=reports', queues: ['reports', 'exports'],
        tasks: ['http'], autoscaler: { enabled: true, minReplicas: 0, maxReplicas: 4, cooldownSeconds: 30, tasksPerWorker: 10, maxQueueAgeSeconds: 120 },
      },
      { name: 'gpu', deployment: 'tm-taskmaster-worker-gpu', selector: 'taskmaster.dev/pool=gpu', keda: { scaledObject: 'tm-taskmaster-worker-gpu' } },
    ]));
    expect(config.workerPools.map((pool) => pool.name)).toEqual(['default', 'reports', 'gpu']);
    expect(config.workerPools[1]).toEqual({
      name: 'reports', deployment: 'tm-taskmaster-worker-reports', selector: { 'taskmaster.dev/pool': 'reports' }, queues: ['reports', 'exports'], tasks: ['http'],
      autoscaler: { enabled: true, minReplicas: 0, maxReplicas: 4, cooldownMs: 30_000, tasksPerWorker: 10, maxQueueAgeMs: 120_000 },
    });
    expect(config.workerPools[2]).toMatchObject({ keda: { scaledObject: 'tm-taskmaster-worker-gpu' }, autoscaler: { enabled: false } });
  });

  test.each([
    ['not JSON', { WORKER_POOLS: '[{' }, /WORKER_POOLS must be a JSON array of pools/],
    ['empty', pools([]), /WORKER_POOLS must be a non-empty JSON array/],
    ['no default pool', pools([{ ...defaultPool, name: 'reports' }]), /must include the pool "default"/],
    ['a bad name', pools([defaultPool, { ...defaultPool, name: 'Reports!', deployment: 'x' }]), /WORKER_POOLS\[1\]\.name must be a pool name/],
    ['a name twice', pools([defaultPool, { ...defaultPool, deployment: 'other' }]), /the pool "default" is given twice/],
    ['one Deployment twice', pools([defaultPool, { ...defaultPool, name: 'reports' }]), /two pools scale the Deployment "tm-taskmaster-worker"/],
    ['no deployment', pools([{ ...defaultPool, deployment: '' }]), /pool "default": deployment must be/],
    ['a bad selector', pools([{ ...defaultPool, selector: 'a!=b' }]), /pool "default": selector/],
    ['a bad queue', pools([{ ...defaultPool, queues: ['Reports Queue'] }]), /pool "default": queues must be a list/],
    ['min over max', pools([{ ...defaultPool, autoscaler: { enabled: true, minReplicas: 5, maxReplicas: 2 } }]), /autoscaler\.minReplicas \(5\) must not exceed maxReplicas \(2\)/],
    ['a fraction', pools([{ ...defaultPool, autoscaler: { tasksPerWorker: 2.5 } }]), /autoscaler\.tasksPerWorker must be a whole number/],
    ['KEDA and the autoscaler both', pools([{ ...defaultPool, autoscaler: { enabled: true }, keda: { scaledObject: 'so' } }]), /autoscaler\.enabled and keda both own the replicas/],
    ['KEDA without a name', pools([{ ...defaultPool, keda: {} }]), /keda\.scaledObject must be/],
  ])('refuses %s, naming the pool and the field', (_what, env, problem) => {
    expect(problemsOf(env)).toEqual(expect.arrayContaining([expect.stringMatching(problem)]));
  });
});

describe('WORKER_QUEUES and WORKER_TASKS', () => {
  test('default to none (every queue, every built-in type)', () => {
    expect(loadConfig({}).worker).toMatchObject({ queues: [], tasks: [] });
  });

  test('are comma-separated names, duplicates dropped', () => {
    expect(loadConfig({ WORKER_QUEUES: 'reports, exports,reports', WORKER_TASKS: 'http' }).worker).toMatchObject({ queues: ['reports', 'exports'], tasks: ['http'] });
  });

  test('a bad entry is refused, naming the variable', () => {
    expect(problemsOf({ WORKER_QUEUES: 'reports,Big Queue' })).toEqual([expect.stringMatching(/^WORKER_QUEUES entry "Big Queue"/)]);
    expect(problemsOf({ WORKER_TASKS: 'send email' })).toEqual([expect.stringMatching(/^WORKER_TASKS entry "send email"/)]);
  });
});
