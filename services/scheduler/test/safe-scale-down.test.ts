/**
 * Safe scale-down (issue 14) on envtest: a real kube-apiserver and kube-controller-manager, whose ReplicaSet
 * controller creates the worker pods and, scaling down, removes the pods of lowest
 * controller.kubernetes.io/pod-deletion-cost first. The scaler runs as the scheduler's ServiceAccount with the
 * chart's Role, and learns which workers are busy from a real coordinator (test database), to which three workers
 * named like the pods connect, as the chart's workers do (WORKER_NAME = the pod name). They are played on raw
 * Connect streams, since no kubelet runs the pods: one holds a task, two hold nothing. Skipped with a warning
 * without the control-plane binaries; an error under CI=true.
 */
import type { HeldTask } from '../../common/src/grpc/contract';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { createLogger } from '../../common/src/logger';
import { startTestCoordinator, type TestCoordinator } from '../../../test/helpers/coordinator';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../../../test/helpers/envtest';
import { StreamWorker } from '../../coordinator/test/stream-worker';
import { coordinatorView, type CoordinatorView } from '../src/coordinator-view';
import { workloadOf } from '../src/scaler/create-scaler';
import { KubernetesScaler, POD_DELETION_COST } from '../src/scaler/kubernetes';
import { NAMESPACE, WORKER_DEPLOYMENT, WORKER_LABELS, WORKER_SELECTOR, setUpWorkerNamespace, until, type WorkerNamespace } from './helpers/worker-namespace';

const logger = createLogger('test', 'silent');

interface Pod {
  metadata: { name: string; creationTimestamp: string; deletionTimestamp?: string; annotations?: Record<string, string> };
}

describeIfControlPlane('safe scale-down: idle workers go first (envtest, pod-deletion-cost)', () => {
  let cp: ControlPlane;
  let ns: WorkerNamespace;
  let db: TestDatabase;
  let coordinator: TestCoordinator;
  let view: CoordinatorView;
  let scaler: KubernetesScaler;
  const workers: StreamWorker[] = [];
  let beating: NodeJS.Timeout | undefined;

  const pods = async (): Promise<Pod[]> => {
    const response = await apiRequest<{ items: Pod[] }>(cp, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods?labelSelector=${encodeURIComponent(WORKER_SELECTOR)}`);
    return response.body.items.filter((pod) => !pod.metadata.deletionTimestamp);
  };

  beforeAll(async () => {
    cp = await startControlPlane({ withControllerManager: true });
    ns = await setUpWorkerNamespace(cp);
    db = await createTestDatabase();
    coordinator = await startTestCoordinator(db, { HEARTBEAT_INTERVAL: '1s', POLL_INTERVAL: '1s', DISPATCH_LOOKAHEAD: '0ms' });
    view = coordinatorView(coordinator.address);
    scaler = await KubernetesScaler.create({
      kubeConfig: ns.kubeConfig, namespace: NAMESPACE, deployment: WORKER_DEPLOYMENT, selector: WORKER_LABELS, logger, workload: workloadOf(view),
    });
  }, 180_000);

  afterAll(async () => {
    clearInterval(beating);
    for (const worker of workers) worker.close();
    view?.close();
    await coordinator?.stop();
    await db?.drop();
    await cp?.stop();
  }, 60_000);

  test('scaling 3 → 1 with one busy worker keeps the busy one', async () => {
    await scaler.scale(3);
    const three = await until('three worker pods', async () => {
      const found = await pods();
      return found.length === 3 ? found : undefined;
    });
    // The busy one is the newest pod: without deletion costs the ReplicaSet controller removes newer pods first
    // (all three are equally unscheduled), so it is the one a plain scale-down would most likely take.
    const byAge = [...three].sort((a, b) => a.metadata.creationTimestamp.localeCompare(b.metadata.creationTimestamp) || a.metadata.name.localeCompare(b.metadata.name));
    const busyPod = byAge[2].metadata.name;
    const idlePods = byAge.slice(0, 2).map((pod) => pod.metadata.name);

    // Each pod's worker joins under the pod's name; only the busy one runs command tasks, so it gets the task.
    const busy = new StreamWorker(coordinator.client, 901, { name: busyPod, handles: [], command_tasks: true });
    workers.push(busy, ...idlePods.map((name, i) => new StreamWorker(coordinator.client, 902 + i, { name, handles: ['nothing-here'], command_tasks: false })));
    const held = (): HeldTask[] => busy.received.map((task) => ({ task_id: task.task_id, attempt: task.attempt }));
    const beat = () => Promise.all(workers.map((worker) => worker.beat(worker === busy ? held() : [])));
    await beat();
    beating = setInterval(() => void beat().catch(() => undefined), 500);
    await insertTasks(db.pool, [{ command: 'long-report', scheduledAt: new Date(Date.now() - 1000) }]);
    await until('the busy worker to hold its task', async () => {
      const listed = await view.listWorkers();
      return listed?.find((worker) => worker.name === busyPod)?.in_flight === 1 && listed.length === 3 ? true : undefined;
    });

    expect(await scaler.scale(1)).toEqual({ requested: 1, previous: 3 });

    // Marked before the scale changed: the busy worker costs its one task, the idle ones nothing.
    const costs = Object.fromEntries(three.map((pod) => [pod.metadata.name, undefined as string | undefined]));
    for (const pod of await pods()) costs[pod.metadata.name] = pod.metadata.annotations?.[POD_DELETION_COST];
    expect(costs[busyPod]).toBe('1');
    const left = await until('one worker pod left', async () => {
      const found = await pods();
      return found.length === 1 ? found : undefined;
    });
    expect(left.map((pod) => pod.metadata.name)).toEqual([busyPod]);
  }, 120_000);

  test('scaling up marks nothing', async () => {
    const before = (await pods()).map((pod) => pod.metadata.annotations?.[POD_DELETION_COST]);
    await scaler.scale(2);
    const two = await until('two worker pods', async () => {
      const found = await pods();
      return found.length === 2 ? found : undefined;
    });
    const added = two.filter((pod) => pod.metadata.annotations?.[POD_DELETION_COST] === undefined);
    expect(added).toHaveLength(1);
    expect(before).toEqual(['1']);
  }, 60_000);
});
