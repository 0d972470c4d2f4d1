/**
 * Worker pools and KEDA in the chart (issue 14), rendered by the real helm: one Deployment per pool with its own
 * settings, the default one unchanged in name and selector, the scheduler told every pool through WORKER_POOLS
 * (read here by the scheduler's own parser), its Role over every pool's Deployment, and a ScaledObject for a pool
 * KEDA owns. chart-apiserver.test.ts dry-runs the ci/ scenarios (worker-pools, keda-*) against a real API server
 * with KEDA's CRDs.
 */
import { loadConfig } from '../../services/common/src/config';
import { ConflictError } from '../../services/common/src/errors';
import { matchesLabels } from '../../services/common/src/label-selector';
import { WorkerPools } from '../../services/scheduler/src/scaler/worker-pools';
import type { Scaler } from '../../services/scheduler/src/scaler/scaler';
import {
  ciValues, configOf, findObject, renderChart, renderFailure, type K8sObject,
} from '../helpers/helm';

const envOf = (deployment: K8sObject): Record<string, string | undefined> =>
  Object.fromEntries((deployment.spec.template.spec.containers[0].env as Array<{ name: string; value?: string }>).map((e) => [e.name, e.value]));
/** What the scheduler makes of the rendered ConfigMap: its pools, parsed as at start-up. */
const poolsOf = (objects: K8sObject[]) => loadConfig(configOf(objects)).workerPools;
const WORKER_SELECTOR = { 'app.kubernetes.io/name': 'taskmaster', 'app.kubernetes.io/instance': 'tm', 'app.kubernetes.io/component': 'worker' };

describe('the default pool', () => {
  const objects = renderChart();

  it('keeps the worker Deployment, its name and its selector, and labels its pods with their pool', () => {
    const deployments = objects.filter((o) => o.kind === 'Deployment' && o.metadata.name.startsWith('tm-taskmaster-worker'));
    expect(deployments.map((d) => d.metadata.name)).toEqual(['tm-taskmaster-worker']);
    const [worker] = deployments;
    // A Deployment's selector is immutable: changing it would make upgrades fail, so the pool label stays out of it.
    expect(worker.spec.selector.matchLabels).toEqual(WORKER_SELECTOR);
    expect(worker.spec.template.metadata.labels['taskmaster.dev/pool']).toBe('default');
    expect(worker.spec.template.spec.terminationGracePeriodSeconds).toBe(35);
  });

  it('is the one pool the scheduler knows, scaled by hand, over the pods of the worker Deployment', () => {
    expect(poolsOf(objects)).toEqual([{
      name: 'default', deployment: 'tm-taskmaster-worker', selector: { ...WORKER_SELECTOR, 'taskmaster.dev/pool': 'default' }, queues: [], tasks: [],
      autoscaler: { enabled: false, minReplicas: 1, maxReplicas: 10, cooldownMs: 60_000, tasksPerWorker: 5, maxQueueAgeMs: 0 },
    }]);
    expect(configOf(objects).AUTOSCALER_ENABLED).toBe('false');
    expect(objects.filter((o) => o.kind === 'ScaledObject')).toEqual([]);
  });
});

describe('ci/worker-pools-values.yaml', () => {
  const objects = renderChart({ valuesFiles: [ciValues('worker-pools')] });
  const deployment = (name: string) => findObject(objects, 'Deployment', name);

  it('renders a Deployment per pool, each with what it overrides and the rest of `worker`', () => {
    const reports = deployment('tm-taskmaster-worker-reports');
    const http = deployment('tm-taskmaster-worker-http');
    expect(reports.spec.template.spec.containers[0].image).toBe('registry.example.com/taskmaster-reports-worker:1.4.2');
    expect(http.spec.template.spec.containers[0].image).toBe(deployment('tm-taskmaster-worker').spec.template.spec.containers[0].image);
    expect(reports.spec.template.spec.containers[0].resources).toEqual({ requests: { cpu: '500m', memory: '512Mi' }, limits: { memory: '1Gi' } });
    expect(http.spec.template.spec.containers[0].resources).toEqual(deployment('tm-taskmaster-worker').spec.template.spec.containers[0].resources);
    expect(envOf(reports)).toMatchObject({ WORKER_QUEUES: 'reports,exports', WORKER_POOL_SIZE: '2', WORKER_DRAIN_TIMEOUT: '300s' });
    expect(envOf(reports).WORKER_TASKS).toBeUndefined();
    expect(envOf(http)).toMatchObject({ WORKER_QUEUES: 'webhooks', WORKER_TASKS: 'http', WORKER_POOL_SIZE: '50', WORKER_DRAIN_TIMEOUT: '25s' });
    expect(envOf(deployment('tm-taskmaster-worker')).WORKER_QUEUES).toBeUndefined();
  });

  it('gives each pool its own selector and grace period, and leaves replicas to the autoscaler where it owns them', () => {
    const reports = deployment('tm-taskmaster-worker-reports');
    expect(reports.spec.selector.matchLabels).toEqual({ ...WORKER_SELECTOR, 'taskmaster.dev/pool': 'reports' });
    expect(reports.spec.template.metadata.labels).toMatchObject({ ...WORKER_SELECTOR, 'taskmaster.dev/pool': 'reports' });
    // The grace period follows the pool's drain time: 300 s to finish or hand back, 10 s to deregister.
    expect(reports.spec.template.spec.terminationGracePeriodSeconds).toBe(310);
    expect(reports.spec.replicas).toBeUndefined();
    expect(deployment('tm-taskmaster-worker-http').spec.replicas).toBe(1);
    expect(deployment('tm-taskmaster-worker').spec.replicas).toBe(2);
  });

  it('tells the scheduler every pool, which its own parser reads back', () => {
    const pools = poolsOf(objects);
    expect(pools.map((pool) => [pool.name, pool.deployment, pool.queues, pool.tasks, pool.autoscaler.enabled])).toEqual([
      ['default', 'tm-taskmaster-worker', [], [], false],
      ['http', 'tm-taskmaster-worker-http', ['webhooks'], ['http'], false],
      ['reports', 'tm-taskmaster-worker-reports', ['reports', 'exports'], [], true],
    ]);
    expect(pools[2].autoscaler).toEqual({ enabled: true, minReplicas: 0, maxReplicas: 8, cooldownMs: 60_000, tasksPerWorker: 2, maxQueueAgeMs: 120_000 });
    // Each pool's selector picks its own pods and no other pool's.
    for (const pool of pools) {
      for (const other of pools) {
        expect(matchesLabels(pool.selector, deployment(other.deployment).spec.template.metadata.labels)).toBe(pool === other);
      }
    }
    expect(configOf(objects)).toMatchObject({ AUTOSCALER_ENABLED: 'true', LEASE_NAME: 'tm-taskmaster-autoscaler' });
  });

  it("lets the scheduler scale every pool's Deployment and no other, and hold the Lease", () => {
    const role = findObject(objects, 'Role', 'tm-taskmaster-scheduler');
    expect(role.rules[0]).toEqual({
      apiGroups: ['apps'], resources: ['deployments/scale'], verbs: ['get', 'patch'],
      resourceNames: ['tm-taskmaster-worker', 'tm-taskmaster-worker-http', 'tm-taskmaster-worker-reports'],
    });
    expect(role.rules).toContainEqual({ apiGroups: ['coordination.k8s.io'], resources: ['leases'], resourceNames: ['tm-taskmaster-autoscaler'], verbs: ['get', 'update'] });
  });

  it("accepts every pool's pods in the admission policy's worker check", () => {
    const policy = findObject(renderChart({ valuesFiles: [ciValues('worker-pools')], apiVersions: ['admissionregistration.k8s.io/v1/ValidatingAdmissionPolicy'] }),
      'ValidatingAdmissionPolicy', 'taskmaster-tm-taskmaster-scheduler-pod-deletion');
    const expression: string = policy.spec.validations[0].expression;
    // The check names the labels every worker pod carries, whatever its pool, and no pool label.
    for (const [key, value] of Object.entries(WORKER_SELECTOR)) expect(expression).toContain(`oldObject.metadata.labels["${key}"] == "${value}"`);
    expect(expression).not.toContain('taskmaster.dev/pool');
    for (const name of ['tm-taskmaster-worker', 'tm-taskmaster-worker-http', 'tm-taskmaster-worker-reports']) {
      expect(matchesLabels(WORKER_SELECTOR, deployment(name).spec.template.metadata.labels)).toBe(true);
    }
  });
});

describe('a pool overriding with false, 0 or an empty list', () => {
  it('takes its own value, not the default it overrides', () => {
    const objects = renderChart({ set: { 'worker.autoscaler.enabled': true, 'workerPools.fixed.autoscaler.enabled': false, 'workerPools.fixed.replicas': 0 } });
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker').spec.replicas).toBeUndefined();
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker-fixed').spec.replicas).toBe(0);
    expect(poolsOf(objects).map((pool) => [pool.name, pool.autoscaler.enabled])).toEqual([['default', true], ['fixed', false]]);
  });
});

describe('KEDA', () => {
  it('ci/keda-prometheus-values.yaml: a ScaledObject owns the default pool, on the coordinators\' gauges', () => {
    const objects = renderChart({ valuesFiles: [ciValues('keda-prometheus')] });
    const scaled = findObject(objects, 'ScaledObject', 'tm-taskmaster-worker');
    expect(scaled.apiVersion).toBe('keda.sh/v1alpha1');
    expect(scaled.spec).toMatchObject({
      scaleTargetRef: { apiVersion: 'apps/v1', kind: 'Deployment', name: 'tm-taskmaster-worker' },
      minReplicaCount: 1, maxReplicaCount: 20,
    });
    expect(scaled.spec.triggers).toEqual([{
      type: 'prometheus',
      metadata: {
        serverAddress: 'http://kube-prometheus-stack-prometheus.monitoring:9090',
        query: 'max(taskmaster_queue_depth_tasks{namespace="taskmaster"}) + sum(taskmaster_worker_slots_busy{namespace="taskmaster"})',
        threshold: '5',
        activationThreshold: '0',
      },
    }]);
    // Nobody else sets the count: no replicas in the Deployment, no built-in autoscaler, the scale API refuses.
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker').spec.replicas).toBeUndefined();
    expect(configOf(objects).AUTOSCALER_ENABLED).toBe('false');
    const [pool] = poolsOf(objects);
    expect(pool.keda).toEqual({ scaledObject: 'tm-taskmaster-worker' });
    const pools = new WorkerPools([{ config: pool, scaler: {} as Scaler }], {} as Scaler);
    expect(() => pools.scalable(undefined)).toThrow(ConflictError);
    expect(() => pools.scalable(undefined)).toThrow(/owned by KEDA \(ScaledObject tm-taskmaster-worker\).*worker\.keda/);
  });

  it("ci/keda-postgresql-values.yaml: KEDA counts the pool's queues in the database with the services' credentials", () => {
    const objects = renderChart({ valuesFiles: [ciValues('keda-postgresql')] });
    const scaled = findObject(objects, 'ScaledObject', 'tm-taskmaster-worker-batch');
    expect(scaled.spec.minReplicaCount).toBe(0);
    expect(scaled.spec.triggers).toEqual([{
      type: 'postgresql',
      metadata: {
        query: "SELECT count(*) FROM taskmaster.tasks WHERE ((status = 'pending' AND scheduled_at <= now()) OR status IN ('dispatched', 'running')) AND queue IN ('batch')",
        targetQueryValue: '10',
        activationTargetQueryValue: '0',
        host: 'tm-taskmaster-postgres',
        port: '5432',
        dbName: 'taskmaster',
        userName: 'taskmaster',
        sslmode: 'disable',
      },
      authenticationRef: { name: 'tm-taskmaster-worker-batch' },
    }]);
    const auth = findObject(objects, 'TriggerAuthentication', 'tm-taskmaster-worker-batch');
    const scheduler = findObject(objects, 'Deployment', 'tm-taskmaster-scheduler').spec.template.spec.containers[0].env;
    const password = scheduler.find((e: { name: string }) => e.name === 'POSTGRES_PASSWORD').valueFrom.secretKeyRef;
    expect(auth.spec.secretTargetRef).toEqual([{ parameter: 'password', name: password.name, key: password.key }]);
    // The default pool keeps the built-in autoscaler; the batch pool is KEDA's alone.
    expect(poolsOf(objects).map((pool) => [pool.name, pool.autoscaler.enabled, pool.keda?.scaledObject])).toEqual([
      ['default', true, undefined], ['batch', false, 'tm-taskmaster-worker-batch'],
    ]);
    expect(findObject(objects, 'Deployment', 'tm-taskmaster-worker-batch').spec.replicas).toBeUndefined();
  });

  it.each([
    ['both owners for one pool', { 'worker.autoscaler.enabled': true, 'worker.keda.enabled': true, 'worker.keda.prometheus.serverAddress': 'http://p:9090' },
      /worker pool default: autoscaler.enabled and keda.enabled both own the replicas/],
    ['the prometheus trigger without a server', { 'worker.keda.enabled': true }, /keda.trigger prometheus needs keda.prometheus.serverAddress/],
    ['a pool of some queues on the all-queues gauge', { 'workerPools.batch.queues[0]': 'batch', 'workerPools.batch.keda.enabled': true, 'workerPools.batch.keda.prometheus.serverAddress': 'http://p:9090' },
      /worker pool batch takes only some queues or task types.*set keda.prometheus.query, or use keda.trigger postgresql/],
  ])('refuses %s at render time', (_what, set, message) => {
    expect(renderFailure({ set })).toMatch(message);
  });
});

describe('bad pool values', () => {
  it.each([
    ['a pool named default', { 'workerPools.default.replicas': 2 }, /workerPools: Property name of "default" does not match|Must not validate the schema/],
    ['an invalid pool name', { 'workerPools.Big_Pool.replicas': 2 }, /workerPools: Property name of "Big_Pool" does not match/],
    ['a setting shared by every pool', { 'workerPools.reports.pdb.enabled': true }, /workerPools\.reports\.pdb/],
    ['a queue that is no queue name', { 'workerPools.reports.queues[0]': 'Reports Queue' }, /workerPools\.reports\.queues\.0/],
    ['a task type the shipped worker does not run', { 'worker.tasks[0]': 'resize-images' }, /worker\.tasks\.0/],
    ['an unknown KEDA trigger', { 'worker.keda.trigger': 'kafka' }, /worker\.keda\.trigger/],
  ])('refuses %s, naming the value', (_what, set, message) => {
    expect(renderFailure({ set })).toMatch(message);
  });
});
