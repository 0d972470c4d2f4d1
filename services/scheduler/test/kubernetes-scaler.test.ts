/**
 * The Kubernetes scaler against a real kube-apiserver and kube-controller-manager (envtest), authenticated
 * as the scheduler's ServiceAccount with exactly the chart's Role: the API server judges RBAC, the scale
 * subresource and the patch content type. Pods stay Pending (no scheduler, no kubelet). Skipped with a
 * warning when the binaries are missing (`bash scripts/build-testbin.sh`); an error under CI=true.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../common/src/config';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../common/src/errors';
import { createLogger } from '../../common/src/logger';
import { apiRequest, describeIfControlPlane, startControlPlane, type ControlPlane } from '../../../test/helpers/envtest';
import { createScaler } from '../src/scaler/create-scaler';
import { loadKubernetesCluster } from '../src/scaler/kube-client';
import { KubernetesScaler } from '../src/scaler/kubernetes';
import {
  FOREIGN_POD, NAMESPACE, OTHER_DEPLOYMENT, OTHER_NAMESPACE, UNLABELLED_POD, WORKER_DEPLOYMENT, WORKER_LABELS, WORKER_SELECTOR,
  setUpWorkerNamespace, until, type WorkerNamespace,
} from './helpers/worker-namespace';

const logger = createLogger('test', 'silent');
const apps = `/apis/apps/v1/namespaces/${NAMESPACE}`;

interface Pod {
  metadata: { name: string; labels?: Record<string, string> };
}

describeIfControlPlane('KubernetesScaler as the scheduler ServiceAccount (envtest)', () => {
  let cp: ControlPlane;
  let ns: WorkerNamespace;
  let scaler: KubernetesScaler;

  const podNames = async (namespace: string, selector: string): Promise<string[]> => {
    const response = await apiRequest<{ items: Pod[] }>(cp, 'GET', `/api/v1/namespaces/${namespace}/pods?labelSelector=${encodeURIComponent(selector)}`);
    return response.body.items.map((p) => p.metadata.name).sort();
  };
  const workerPods = () => podNames(NAMESPACE, WORKER_SELECTOR);

  beforeAll(async () => {
    cp = await startControlPlane({ withControllerManager: true });
    ns = await setUpWorkerNamespace(cp);
    scaler = await KubernetesScaler.create({ kubeConfig: ns.kubeConfig, namespace: NAMESPACE, deployment: WORKER_DEPLOYMENT, selector: WORKER_LABELS, logger });
    await until('the first worker pod', async () => ((await workerPods()).length === 1 ? true : undefined));
  }, 180_000);

  afterAll(async () => {
    await cp?.stop();
  }, 60_000);

  test('lists only the worker pods, with phase, readiness and node', async () => {
    const workers = await scaler.list();
    expect(workers).toHaveLength(1);
    expect(workers[0]).toEqual({ name: expect.stringMatching(new RegExp(`^${WORKER_DEPLOYMENT}-`)), phase: 'Pending', ready: false });
    expect(await scaler.desired()).toBe(1);
  });

  test('scales the worker Deployment through its scale subresource, and the ReplicaSet follows', async () => {
    expect(await scaler.scale(3)).toEqual({ requested: 3, previous: 1 });
    expect(await scaler.desired()).toBe(3);
    const deployment = await apiRequest<{ spec: { replicas: number } }>(cp, 'GET', `${apps}/deployments/${WORKER_DEPLOYMENT}`);
    expect(deployment.body.spec.replicas).toBe(3);
    const pods = await until('3 worker pods', async () => {
      const names = await workerPods();
      return names.length === 3 ? names : undefined;
    });
    expect(pods).toHaveLength(3);
    expect((await scaler.list()).map((w) => w.phase)).toEqual(['Pending', 'Pending', 'Pending']);
  });

  test('the content type matters: a plain JSON patch of the scale is refused with 415', async () => {
    const response = await ns.asScheduler('PATCH', `${apps}/deployments/${WORKER_DEPLOYMENT}/scale`, { spec: { replicas: 3 } }, { 'Content-Type': 'application/json' });
    expect(response.status).toBe(415);
  });

  test('kills a worker pod, and the ReplicaSet replaces it', async () => {
    const before = await until('3 worker pods', async () => {
      const names = await workerPods();
      return names.length === 3 ? names : undefined;
    });
    await scaler.kill(before[0]);
    // An unscheduled pod is deleted at once (graceful deletion needs a kubelet).
    expect((await apiRequest(cp, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods/${before[0]}`)).status).toBe(404);
    const after = await until('a replacement pod', async () => {
      const names = await workerPods();
      return names.length === 3 && !names.includes(before[0]) ? names : undefined;
    });
    expect(after.filter((name) => !before.includes(name))).toHaveLength(1);
  });

  test("refuses to kill the other Deployment's pod (403), which lacks the worker component label", async () => {
    const [coordinatorPod] = await until('the other deployment pod', async () => {
      const names = await podNames(NAMESPACE, 'app.kubernetes.io/component=coordinator');
      return names.length === 1 ? names : undefined;
    });
    const refusal = scaler.kill(coordinatorPod);
    await expect(refusal).rejects.toBeInstanceOf(ForbiddenError);
    await expect(refusal).rejects.toThrow(/is not a TaskMaster worker.*app\.kubernetes\.io\/component=worker/);
    expect((await apiRequest(cp, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods/${coordinatorPod}`)).status).toBe(200);
  });

  test('refuses to kill a pod without the worker labels (403)', async () => {
    await expect(scaler.kill(UNLABELLED_POD)).rejects.toBeInstanceOf(ForbiddenError);
    expect((await apiRequest(cp, 'GET', `/api/v1/namespaces/${NAMESPACE}/pods/${UNLABELLED_POD}`)).status).toBe(200);
  });

  test('a labelled pod in another namespace is out of reach: 404 from the scaler, 403 from RBAC', async () => {
    await expect(scaler.kill(FOREIGN_POD)).rejects.toBeInstanceOf(NotFoundError);
    const direct = await ns.asScheduler('DELETE', `/api/v1/namespaces/${OTHER_NAMESPACE}/pods/${FOREIGN_POD}`);
    expect(direct.status).toBe(403);
    expect((await apiRequest(cp, 'GET', `/api/v1/namespaces/${OTHER_NAMESPACE}/pods/${FOREIGN_POD}`)).status).toBe(200);
  });

  test('an unknown pod is a NotFoundError', async () => {
    await expect(scaler.kill('no-such-worker')).rejects.toBeInstanceOf(NotFoundError);
  });

  test('cannot scale any other Deployment: the Role names the worker Deployment only', async () => {
    const other = await KubernetesScaler.create({ kubeConfig: ns.kubeConfig, namespace: NAMESPACE, deployment: OTHER_DEPLOYMENT, selector: WORKER_LABELS, logger });
    await expect(other.scale(5)).rejects.toBeInstanceOf(ForbiddenError);
    // The API server's RBAC message (it names the ServiceAccount and the resource) is for the log, not the caller.
    const refused = await other.scale(5).then((): ForbiddenError | undefined => undefined, (err: ForbiddenError) => err);
    expect(refused?.message).not.toMatch(/serviceaccount|forbidden:/i);
    expect(refused?.detail).toMatch(/system:serviceaccount:.*cannot (get|patch) resource "deployments\/scale"/);
    const direct = await ns.asScheduler('PATCH', `${apps}/deployments/${OTHER_DEPLOYMENT}/scale`, { spec: { replicas: 5 } }, {
      'Content-Type': 'application/merge-patch+json',
    });
    expect(direct.status).toBe(403);
    const deployment = await apiRequest<{ spec: { replicas: number } }>(cp, 'GET', `${apps}/deployments/${OTHER_DEPLOYMENT}`);
    expect(deployment.body.spec.replicas).toBe(1);
  });

  test('a missing worker Deployment is a 503 naming the setting to check, not a 404', async () => {
    const admin = await KubernetesScaler.create({
      ...(await loadKubernetesCluster(loadConfig({ KUBECONFIG: cp.kubeconfigPath }).kubernetes)),
      namespace: NAMESPACE,
      deployment: 'no-such-deployment',
      selector: WORKER_LABELS,
      logger,
    });
    await expect(admin.desired()).rejects.toThrow(UnavailableError);
    await expect(admin.scale(2)).rejects.toThrow(/no-such-deployment does not exist: check WORKER_DEPLOYMENT/);
  });

  test('createScaler with SCALER=kubernetes and KUBECONFIG takes the namespace from the kubeconfig context', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'taskmaster-kubeconfig-'));
    const kubeconfig = join(dir, 'scheduler.kubeconfig');
    writeFileSync(kubeconfig, ns.kubeConfig.exportConfig(), { mode: 0o600 });
    const config = loadConfig({ SCALER: 'kubernetes', KUBECONFIG: kubeconfig, WORKER_DEPLOYMENT, WORKER_SELECTOR });
    const { scaler: fromConfig } = await createScaler(config, logger);
    expect(fromConfig.kind).toBe('kubernetes');
    expect(await fromConfig.desired()).toBe(3);
    expect((await fromConfig.list()).map((w) => w.name).sort()).toEqual(await workerPods());
    rmSync(dir, { recursive: true, force: true });
  });
});
