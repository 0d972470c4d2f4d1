/**
 * A namespace laid out as the Helm chart lays it out, on an envtest control plane (test/helpers/envtest.ts):
 * the worker Deployment, the scheduler's ServiceAccount with exactly the chart's Role, plus things the
 * scheduler must not touch (another Deployment, a pod without the worker labels, a labelled pod in another
 * namespace). The scheduler's credentials are a real ServiceAccount token minted with the TokenRequest API.
 */
import { apiRequest, type ApiResponse, type ControlPlane } from '../../../../test/helpers/envtest';
import { findObject, renderChart } from '../../../../test/helpers/helm';
import { loadKubernetesClient, type KubeConfig } from '../../src/scaler/kube-client';

export const NAMESPACE = 'taskmaster';
export const OTHER_NAMESPACE = 'other';
export const WORKER_DEPLOYMENT = 'tm-taskmaster-worker';
export const OTHER_DEPLOYMENT = 'tm-taskmaster-coordinator';
export const SERVICE_ACCOUNT = 'tm-taskmaster-scheduler';
export const UNLABELLED_POD = 'debug-shell';
export const FOREIGN_POD = 'stray-worker';
export const WORKER_LABELS = {
  'app.kubernetes.io/name': 'taskmaster',
  'app.kubernetes.io/instance': 'tm',
  'app.kubernetes.io/component': 'worker',
};
export const WORKER_SELECTOR = Object.entries(WORKER_LABELS).map(([k, v]) => `${k}=${v}`).join(',');
export const LEASE = 'tm-taskmaster-autoscaler';

/**
 * The Role the chart grants the scheduler (charts/taskmaster/templates/scheduler/scheduler-rbac.yaml, with the
 * autoscaler on), rendered by helm for release "tm" in NAMESPACE: the scaler and the leader election are tested
 * with exactly the rights the chart gives them, so a verb the chart drops and the code still uses fails here.
 */
export function schedulerRole() {
  const role = findObject(renderChart({ release: 'tm', namespace: NAMESPACE, set: { 'worker.autoscaler.enabled': true } }), 'Role', SERVICE_ACCOUNT);
  return { apiVersion: role.apiVersion, kind: role.kind, metadata: { name: SERVICE_ACCOUNT }, rules: role.rules };
}

export interface WorkerNamespace {
  /** The scheduler ServiceAccount's token. */
  token: string;
  /** A KubeConfig that authenticates with that token, context namespace NAMESPACE. */
  kubeConfig: KubeConfig;
  /** A raw API call as the scheduler's ServiceAccount. */
  asScheduler<T = unknown>(method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiResponse<T>>;
}

export async function until<T>(what: string, fn: () => Promise<T | undefined>, timeoutMs = 90_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await fn();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

async function create(cp: ControlPlane, path: string, body: unknown): Promise<unknown> {
  const response = await apiRequest(cp, 'POST', path, body);
  if (response.status !== 201) throw new Error(`POST ${path} answered ${response.status}: ${JSON.stringify(response.body)}`);
  return response.body;
}

function deployment(name: string, labels: Record<string, string>, replicas: number) {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name, labels },
    spec: {
      replicas,
      selector: { matchLabels: labels },
      template: { metadata: { labels }, spec: { containers: [{ name: 'main', image: 'registry.invalid/taskmaster:test' }] } },
    },
  };
}

function pod(name: string, labels: Record<string, string>) {
  return { apiVersion: 'v1', kind: 'Pod', metadata: { name, labels }, spec: { containers: [{ name: 'main', image: 'registry.invalid/taskmaster:test' }] } };
}

async function createNamespace(cp: ControlPlane, name: string): Promise<void> {
  await create(cp, '/api/v1/namespaces', { apiVersion: 'v1', kind: 'Namespace', metadata: { name } });
  // Pods are refused until the ServiceAccount controller has made the namespace's "default" account.
  await until(`serviceaccount ${name}/default`, async () => {
    const response = await apiRequest(cp, 'GET', `/api/v1/namespaces/${name}/serviceaccounts/default`);
    return response.status === 200 ? true : undefined;
  });
}

export async function setUpWorkerNamespace(cp: ControlPlane): Promise<WorkerNamespace> {
  const ns = `/namespaces/${NAMESPACE}`;
  await createNamespace(cp, NAMESPACE);
  await createNamespace(cp, OTHER_NAMESPACE);
  await create(cp, `/apis/apps/v1${ns}/deployments`, deployment(WORKER_DEPLOYMENT, WORKER_LABELS, 1));
  await create(cp, `/apis/apps/v1${ns}/deployments`, deployment(OTHER_DEPLOYMENT, { ...WORKER_LABELS, 'app.kubernetes.io/component': 'coordinator' }, 1));
  await create(cp, `/api/v1${ns}/pods`, pod(UNLABELLED_POD, { run: 'debug' }));
  await create(cp, `/api/v1/namespaces/${OTHER_NAMESPACE}/pods`, pod(FOREIGN_POD, WORKER_LABELS));

  await create(cp, `/api/v1${ns}/serviceaccounts`, { apiVersion: 'v1', kind: 'ServiceAccount', metadata: { name: SERVICE_ACCOUNT } });
  await create(cp, `/apis/rbac.authorization.k8s.io/v1${ns}/roles`, schedulerRole());
  await create(cp, `/apis/rbac.authorization.k8s.io/v1${ns}/rolebindings`, {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: SERVICE_ACCOUNT },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: SERVICE_ACCOUNT },
    subjects: [{ kind: 'ServiceAccount', name: SERVICE_ACCOUNT, namespace: NAMESPACE }],
  });
  const minted = (await create(cp, `/api/v1${ns}/serviceaccounts/${SERVICE_ACCOUNT}/token`, {
    apiVersion: 'authentication.k8s.io/v1',
    kind: 'TokenRequest',
    spec: { expirationSeconds: 3600 },
  })) as { status: { token: string } };
  const token = minted.status.token;

  const { KubeConfig } = await loadKubernetesClient();
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'envtest', server: cp.server, caData: cp.caData && Buffer.from(cp.caData).toString('base64'), skipTLSVerify: cp.skipTLSVerify }],
    users: [{ name: SERVICE_ACCOUNT, token }],
    contexts: [{ name: 'scheduler', cluster: 'envtest', user: SERVICE_ACCOUNT, namespace: NAMESPACE }],
    currentContext: 'scheduler',
  });
  return {
    token,
    kubeConfig,
    asScheduler: (method, path, body, headers) => apiRequest({ server: cp.server, adminToken: token, caData: cp.caData }, method, path, body, headers),
  };
}
