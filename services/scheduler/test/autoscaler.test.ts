/**
 * The autoscaler end to end on envtest (test/helpers/envtest.ts): a real API server and controller manager,
 * the scheduler ServiceAccount with the chart's Role (scale, pods, leases), a real test database for the
 * queue depth and a real coordinator process for the slots (no worker runs: pods stay Pending, so the
 * coordinator reports no busy slot and the queue alone drives the count). Skipped with a warning when the
 * control-plane binaries are missing; an error under CI=true.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { createLogger } from '../../common/src/logger';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../../../test/helpers/envtest';
import { freePort } from '../../../test/helpers/ports';
import { FAST_TIMINGS, startService, type ServiceProcess } from '../../../test/helpers/processes';
import { coordinatorView, type CoordinatorView } from '../src/coordinator-view';
import { Autoscaler, defaultPoolOnly, type DecisionRecord } from '../src/scaler/autoscaler';
import { KubernetesScaler } from '../src/scaler/kubernetes';
import { LeaseLeaderElector } from '../src/scaler/leader-election';
import {
  LEASE, NAMESPACE, UNLABELLED_POD, WORKER_DEPLOYMENT, WORKER_LABELS, WORKER_SELECTOR, setUpWorkerNamespace, until, type WorkerNamespace,
} from './helpers/worker-namespace';

const logger = createLogger('test', 'silent');
const policy = { minReplicas: 1, maxReplicas: 5, tasksPerWorker: 5, cooldownMs: 1500 };

describeIfControlPlane('Autoscaler with the Kubernetes scaler and a Lease (envtest)', () => {
  let cp: ControlPlane;
  let ns: WorkerNamespace;
  let db: TestDatabase;
  let coordinatorProcess: ServiceProcess;
  let coordinator: CoordinatorView;
  let coordinatorAddress: string;
  let scaler: KubernetesScaler;
  const running: Autoscaler[] = [];
  const decisions: DecisionRecord[] = [];

  async function startAutoscaler(identity: string): Promise<Autoscaler> {
    const elector = await LeaseLeaderElector.create({ kubeConfig: ns.kubeConfig, namespace: NAMESPACE, name: LEASE, identity, leaseDurationMs: 10_000, logger });
    const autoscaler = new Autoscaler({ pools: defaultPoolOnly(scaler, policy), pool: db.pool, coordinator, elector, intervalMs: 250, logger });
    autoscaler.onDecision((record) => decisions.push(record));
    running.push(autoscaler);
    autoscaler.start();
    return autoscaler;
  }

  /** Makes exactly `depth` tasks pending and due: inserts some, or cancels the surplus. */
  async function setQueue(depth: number): Promise<void> {
    const { rows } = await db.pool.query<{ count: number }>(`SELECT count(*)::int AS count FROM tasks WHERE status = 'pending'`);
    const count = rows[0].count;
    if (count < depth) {
      const scheduledAt = new Date(Date.now() - 1000);
      await insertTasks(db.pool, Array.from({ length: depth - count }, (_, i) => ({ command: `echo ${i}`, scheduledAt })));
    } else if (count > depth) {
      await db.pool.query(
        `UPDATE tasks SET status = 'cancelled', cancelled_at = now() WHERE id IN (SELECT id FROM tasks WHERE status = 'pending' LIMIT $1)`,
        [count - depth],
      );
    }
  }

  const replicas = (n: number) => async () => ((await scaler.desired()) === n ? true : undefined);
  const passes = (n: number) => {
    const target = decisions.length + n;
    return until(`${n} autoscaler passes`, async () => (decisions.length >= target ? true : undefined));
  };
  const scaleEvents = async (): Promise<string[]> => {
    const { rows } = await db.pool.query<{ message: string }>(`SELECT message FROM events WHERE type = 'scale' ORDER BY id`);
    return rows.map((row) => row.message);
  };
  const leaseHolder = async (): Promise<{ holderIdentity?: string; leaseTransitions?: number }> => {
    const response = await apiRequest<{ spec: { holderIdentity?: string; leaseTransitions?: number } }>(
      cp, 'GET', `/apis/coordination.k8s.io/v1/namespaces/${NAMESPACE}/leases/${LEASE}`,
    );
    return response.body.spec;
  };

  beforeAll(async () => {
    cp = await startControlPlane({ withControllerManager: true });
    ns = await setUpWorkerNamespace(cp);
    db = await createTestDatabase();
    const port = await freePort();
    coordinatorAddress = `127.0.0.1:${port}`;
    coordinatorProcess = startService('coordinator', { ...FAST_TIMINGS, ...db.env, COORDINATOR_PORT: String(port), COORDINATOR_ADDRESS: coordinatorAddress });
    await coordinatorProcess.waitForLog((line) => line.msg === 'coordinator listening');
    coordinator = coordinatorView(coordinatorAddress);
    scaler = await KubernetesScaler.create({ kubeConfig: ns.kubeConfig, namespace: NAMESPACE, deployment: WORKER_DEPLOYMENT, selector: WORKER_LABELS, logger });
  }, 180_000);

  afterEach(async () => {
    await Promise.all(running.splice(0).map((autoscaler) => autoscaler.stop()));
  }, 60_000);

  afterAll(async () => {
    coordinator?.close();
    await coordinatorProcess?.stop();
    await db?.drop();
    await cp?.stop();
  }, 60_000);

  test('converges to what the queue needs, holds under noise, and scales back to the minimum', async () => {
    await setQueue(12); // 12 tasks at 5 per worker: 3 workers
    const autoscaler = await startAutoscaler('scheduler-a');
    await until('3 replicas', replicas(3), 60_000);

    // Noise between 9 and 15 tasks: more than 3 workers hold (15) and fewer would be over 70% busy (9 > 7).
    await new Promise((resolve) => setTimeout(resolve, policy.cooldownMs));
    const mark = decisions.length;
    for (const depth of [14, 9, 15, 10, 13, 9, 15, 11]) {
      await setQueue(depth);
      await passes(2);
    }
    const noisy = decisions.slice(mark);
    expect(noisy.length).toBeGreaterThanOrEqual(16);
    for (const decision of noisy) {
      expect(decision).toMatchObject({ action: 'hold', replicas: 3, current: 3 });
      expect(decision.reason).not.toMatch(/would scale/); // held on its merits, not by the cooldown
    }

    await setQueue(0);
    await until('1 replica', replicas(1), 60_000);
    // The event is written right after the patch is accepted.
    await until('2 scale events', async () => ((await scaleEvents()).length === 2 ? true : undefined));
    expect(await scaleEvents()).toEqual([
      expect.stringMatching(/^autoscaler scaled workers from 1 to 3 \(kubernetes, scheduler-a\): 12 queued \+ 0 running tasks/),
      expect.stringMatching(/^autoscaler scaled workers from 3 to 1 \(kubernetes, scheduler-a\): 0 queued/),
    ]);
    expect(decisions.filter((d) => d.applied)).toHaveLength(2);
    await autoscaler.stop();
    expect((await leaseHolder()).holderIdentity).toBeUndefined(); // released on stop
  }, 180_000);

  test('two autoscalers on one Lease: only the leader acts; the follower takes over when the leader stops', async () => {
    decisions.length = 0;
    const eventsBefore = (await scaleEvents()).length;
    const b = await startAutoscaler('scheduler-b');
    const c = await startAutoscaler('scheduler-c');
    await setQueue(22); // 5 workers
    await until('5 replicas', replicas(5), 60_000);
    await until('the scale event', async () => ((await scaleEvents()).length === eventsBefore + 1 ? true : undefined));

    const { holderIdentity: leader } = await leaseHolder();
    expect(['scheduler-b', 'scheduler-c']).toContain(leader);
    const follower = leader === 'scheduler-b' ? 'scheduler-c' : 'scheduler-b';
    await passes(4);
    expect(new Set(decisions.map((d) => d.identity))).toEqual(new Set([leader]));
    expect((await scaleEvents()).slice(eventsBefore)).toEqual([expect.stringMatching(new RegExp(`^autoscaler scaled workers from 1 to 5 \\(kubernetes, ${leader}\\)`))]);

    await (leader === 'scheduler-b' ? b : c).stop();
    await until(`${follower} to hold the lease`, async () => ((await leaseHolder()).holderIdentity === follower ? true : undefined), 30_000);
    await setQueue(3);
    await until('1 replica', replicas(1), 60_000);
    await until('the scale event', async () => ((await scaleEvents()).length === eventsBefore + 2 ? true : undefined));
    expect((await scaleEvents()).slice(eventsBefore + 1)).toEqual([
      expect.stringMatching(new RegExp(`^autoscaler scaled workers from 5 to 1 \\(kubernetes, ${follower}\\)`)),
    ]);
    expect((await leaseHolder()).leaseTransitions).toBeGreaterThanOrEqual(2);
  }, 180_000);

  test('the scheduler process runs the autoscaler when AUTOSCALER_ENABLED=true, and gives the lease up on SIGTERM', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmaster-kubeconfig-'));
    const kubeconfig = join(dir, 'scheduler.kubeconfig');
    writeFileSync(kubeconfig, ns.kubeConfig.exportConfig(), { mode: 0o600 });
    await setQueue(8); // 2 workers
    const port = await freePort();
    const scheduler = startService('scheduler', {
      ...db.env,
      COORDINATOR_ADDRESS: coordinatorAddress,
      SCHEDULER_PORT: String(port),
      SCALER: 'kubernetes',
      KUBECONFIG: kubeconfig,
      POD_NAME: 'scheduler-process',
      WORKER_DEPLOYMENT,
      WORKER_SELECTOR,
      LEASE_NAME: LEASE,
      AUTOSCALER_ENABLED: 'true',
      AUTOSCALER_MIN_REPLICAS: '1',
      AUTOSCALER_MAX_REPLICAS: '5',
      AUTOSCALER_COOLDOWN: '1s',
      AUTOSCALER_INTERVAL: '250ms',
    });
    try {
      await scheduler.waitForLog((line) => line.msg === 'autoscaler started', 60_000);
      await until('2 replicas', replicas(2), 60_000);
      const response = await fetch(`http://127.0.0.1:${port}/api/workers`);
      expect(((await response.json()) as { scaler: unknown }).scaler).toMatchObject({ kind: 'kubernetes', desired: 2 });
      expect((await leaseHolder()).holderIdentity).toBe('scheduler-process');
      // The API maps the scaler's refusal: a pod without the worker labels is a 403.
      const kill = await fetch(`http://127.0.0.1:${port}/api/workers/kill`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ name: UNLABELLED_POD }),
      });
      expect(kill.status).toBe(403);
      expect(((await kill.json()) as { error: { code: string } }).error.code).toBe('forbidden');
    } finally {
      expect(await scheduler.stop('SIGTERM')).toBe(0);
      rmSync(dir, { recursive: true, force: true });
    }
    expect(scheduler.logs.some((line) => line.msg === 'released the autoscaler lease')).toBe(true);
    expect((await leaseHolder()).holderIdentity).toBeUndefined();
  }, 180_000);
});
