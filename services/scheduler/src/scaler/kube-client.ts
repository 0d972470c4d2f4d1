import { existsSync } from 'node:fs';
import type * as k8s from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import type { KubernetesConfig } from '../../../common/src/config';
import { ForbiddenError, NotFoundError, UnavailableError } from '../../../common/src/errors';

export type KubernetesClient = typeof k8s;
export type KubeConfig = k8s.KubeConfig;

/** Mounted into every pod whose ServiceAccount token is automounted. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * @kubernetes/client-node 1.x is ESM-only and this code is compiled to CommonJS. TypeScript refuses a static
 * import of it under module "node16" (TS1479: it would become require(), and require(esm) needs Node
 * >= 20.19), so the library is loaded with import(), which TypeScript keeps as is and every Node can do.
 * Types come from type-only imports with resolution-mode "import", which emit nothing.
 */
export function loadKubernetesClient(): Promise<KubernetesClient> {
  return import('@kubernetes/client-node');
}

/** In a pod: the ServiceAccount token is mounted and the kubelet set KUBERNETES_SERVICE_HOST. */
export function isInCluster(settings: Pick<KubernetesConfig, 'serviceHost'>, exists: (path: string) => boolean = existsSync): boolean {
  return settings.serviceHost !== undefined && exists(`${SERVICE_ACCOUNT_DIR}/token`);
}

/** Bounds every API call: the generated client sets no timeout, and a call hung on a dead connection would hold
 * an autoscaler pass past the end of its leadership. 10 s ends well before a 15 s lease could pass to another. */
export const API_TIMEOUT_MS = 10_000;

/** kubeConfig.makeApiClient(api), plus a timeout on every request. */
export function makeApiClient<T>(
  client: KubernetesClient,
  kubeConfig: KubeConfig,
  api: new (configuration: ReturnType<KubernetesClient['createConfiguration']>) => T,
  timeoutMs = API_TIMEOUT_MS,
): T {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new Error('the kubeconfig has no current cluster');
  return new api(
    client.createConfiguration({
      baseServer: new client.ServerConfiguration(cluster.server, {}),
      authMethods: { default: kubeConfig },
      promiseMiddleware: [{
        pre: async (request) => {
          request.setSignal(AbortSignal.timeout(timeoutMs));
          return request;
        },
        post: async (response) => response,
      }],
    }),
  );
}

/** Where the scheduler talks to Kubernetes: its kubeconfig and the namespace of the workers (and of the Lease). */
export interface KubernetesCluster {
  kubeConfig: KubeConfig;
  namespace: string;
}

/**
 * KUBECONFIG when set (tests, a laptop), else the pod's ServiceAccount, else ~/.kube/config; loaded once at
 * start-up, for the scaler and the autoscaler's leader election alike.
 */
export async function loadKubernetesCluster(settings: KubernetesConfig): Promise<KubernetesCluster> {
  const { KubeConfig } = await loadKubernetesClient();
  const kubeConfig = new KubeConfig();
  if (settings.kubeconfig) kubeConfig.loadFromFile(settings.kubeconfig);
  else if (isInCluster(settings)) kubeConfig.loadFromCluster();
  else kubeConfig.loadFromDefault();
  return { kubeConfig, namespace: resolveNamespace(settings, kubeConfig) };
}

/**
 * POD_NAMESPACE, else the context's namespace (loadFromCluster puts the ServiceAccount's there), else "default".
 */
function resolveNamespace(settings: KubernetesConfig, kubeConfig: KubeConfig): string {
  return settings.namespace ?? kubeConfig.getContextObject(kubeConfig.getCurrentContext())?.namespace ?? 'default';
}

/** The HTTP status of a failed API call (client-node's ApiException), or undefined for a network error. */
export function apiStatus(err: unknown): number | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'number' ? code : undefined;
}

/** An API error's status and first line, for the logs; client-node's errors carry the whole response otherwise. */
export function errorSummary(err: unknown): { status?: number; message: string } {
  return { status: apiStatus(err), message: String((err as Error)?.message ?? err).split('\n')[0] };
}

/** The API server's own explanation from its Status body, else the error's first line. */
function apiMessage(err: unknown): string {
  let body = (err as { body?: unknown }).body;
  if (typeof body === 'string') {
    try {
      body = JSON.parse(body);
    } catch {
      /* not JSON: fall through */
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  if (typeof message === 'string') return message;
  return String((err as Error)?.message ?? err).split('\n')[0];
}

/**
 * Turns a failed API call into the error the HTTP API maps: 404 → NotFoundError, 403 (RBAC refused the
 * ServiceAccount) → ForbiddenError, unreachable or failing API server → UnavailableError. Anything else
 * (409, 422: our own bug) is returned unchanged so it is logged as a 500.
 */
export function toScalerError(err: unknown, what: string): unknown {
  // The API server's own words (its RBAC message names the ServiceAccount, a 5xx the cluster) go to the log only.
  const status = apiStatus(err);
  if (status === 404) return new NotFoundError(`${what}: not found`, 'name').withDetail(apiMessage(err));
  if (status === 403) return new ForbiddenError(`${what}: refused by the Kubernetes API (see the scheduler's log)`).withDetail(apiMessage(err));
  const name = (err as { name?: unknown } | null)?.name;
  const unreachable = status === undefined && (name === 'FetchError' || name === 'AbortError');
  if (unreachable || status === 401 || status === 429 || (status !== undefined && status >= 500)) {
    return new UnavailableError(`${what}: the Kubernetes API cannot be used (see the scheduler's log)`).withDetail(apiMessage(err));
  }
  return err;
}
