import type { V1Pod } from '@kubernetes/client-node' with { 'resolution-mode': 'import' };
import { ForbiddenError, UnavailableError } from '../../../common/src/errors';
import { formatLabelSelector, matchesLabels, type Labels } from '../../../common/src/label-selector';
import type { Logger } from '../../../common/src/logger';
import { POOL_LABEL } from '../../../common/src/worker-pools';
import { apiStatus, loadKubernetesClient, makeApiClient, toScalerError, type KubeConfig, type KubernetesClient } from './kube-client';
import type { RuntimeWorker, ScaleResult, Scaler } from './scaler';

export interface KubernetesScalerOptions {
  kubeConfig: KubeConfig;
  /** The namespace of the worker Deployment; nothing outside it is touched. */
  namespace: string;
  /** The worker Deployment, the only one scaled (the Role grants deployments/scale on this name only). */
  deployment: string;
  /** Labels every worker pod carries; a pod without all of them is never deleted. */
  selector: Labels;
  logger: Logger;
  /**
   * Tasks each worker holds, by worker name (= pod name; the chart sets WORKER_NAME from the pod's), or null when
   * the coordinators cannot be asked. When given, a scale-down first marks every pod with its deletion cost.
   */
  workload?: () => Promise<ReadonlyMap<string, number> | null>;
}

/** The annotation the ReplicaSet controller ranks pods by when it removes some: the lowest cost goes first. */
export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/**
 * Workers as the pods of one Deployment. Scaling patches the Deployment's scale subresource, which is what
 * `kubectl scale` does and what the Role can grant for one Deployment by name; the Deployment and ReplicaSet
 * controllers do the rest. Killing deletes one pod after checking it is a worker: the controller replaces it.
 */
export class KubernetesScaler implements Scaler {
  readonly kind = 'kubernetes' as const;

  private constructor(
    private readonly options: KubernetesScalerOptions,
    private readonly client: KubernetesClient,
    private readonly apps: InstanceType<KubernetesClient['AppsV1Api']>,
    private readonly core: InstanceType<KubernetesClient['CoreV1Api']>,
  ) {}

  static async create(options: KubernetesScalerOptions): Promise<KubernetesScaler> {
    const client = await loadKubernetesClient();
    const { kubeConfig } = options;
    return new KubernetesScaler(options, client, makeApiClient(client, kubeConfig, client.AppsV1Api), makeApiClient(client, kubeConfig, client.CoreV1Api));
  }

  async scale(count: number): Promise<ScaleResult> {
    const { namespace, deployment } = this.options;
    try {
      const previous = await this.desired();
      if (this.options.workload && count < previous) await this.markDeletionCosts(this.options.workload);
      // The generated client would send application/json-patch+json, which wants a list of operations;
      // the API answers 415 to a plain JSON body. A merge patch is what `kubectl scale` sends.
      await this.apps.patchNamespacedDeploymentScale(
        { name: deployment, namespace, body: { spec: { replicas: count } } },
        this.client.setHeaderOptions('Content-Type', this.client.PatchStrategy.MergePatch),
      );
      this.options.logger.info({ namespace, deployment, replicas: count, previous }, 'patched the worker deployment scale');
      return { requested: count, previous };
    } catch (err) {
      throw this.deploymentError(err, 'scaling');
    }
  }

  /**
   * Safe scale-down: annotates every pod of this Deployment with the tasks its worker holds as its
   * pod-deletion-cost, so the ReplicaSet controller removes idle workers first and busy ones last. A worker that
   * is removed anyway drains (WORKER_DRAIN_TIMEOUT) and hands back what it could not finish. Without an answer
   * from the coordinators the costs are left as they were: the scale-down still happens, as `kubectl scale` would.
   */
  private async markDeletionCosts(workload: NonNullable<KubernetesScalerOptions['workload']>): Promise<void> {
    const { namespace, logger } = this.options;
    const [pods, held] = await Promise.all([this.listPods(), workload()]);
    if (!held) {
      logger.warn({ namespace, deployment: this.options.deployment }, 'scaling down without deletion costs: the coordinators did not answer, so busy workers are not known');
      return;
    }
    const costs: Record<string, number> = {};
    await Promise.all(pods.filter((pod) => !pod.metadata?.deletionTimestamp).map(async (pod) => {
      const name = pod.metadata?.name ?? '';
      const cost = String(held.get(name) ?? 0);
      costs[name] = Number(cost);
      if (pod.metadata?.annotations?.[POD_DELETION_COST] === cost) return;
      try {
        await this.core.patchNamespacedPod(
          { name, namespace, body: { metadata: { annotations: { [POD_DELETION_COST]: cost } } } },
          this.client.setHeaderOptions('Content-Type', this.client.PatchStrategy.MergePatch),
        );
      } catch (err) {
        // A pod deleted in between needs no cost; anything else stops the scale-down rather than risk a busy worker.
        if (apiStatus(err) !== 404) throw toScalerError(err, `marking worker pod ${namespace}/${name} with its deletion cost`);
      }
    }));
    logger.info({ namespace, deployment: this.options.deployment, costs }, 'marked worker pods with their deletion cost before scaling down');
  }

  async kill(name: string): Promise<void> {
    const { namespace, selector } = this.options;
    let pod: V1Pod;
    try {
      pod = await this.core.readNamespacedPod({ name, namespace });
    } catch (err) {
      throw toScalerError(err, `worker pod ${namespace}/${name}`);
    }
    if (!matchesLabels(selector, pod.metadata?.labels)) {
      throw new ForbiddenError(
        `pod ${namespace}/${name} is not a TaskMaster worker: it lacks the labels ${formatLabelSelector(selector)}, so it is not deleted`,
        'name',
      );
    }
    try {
      // The uid precondition makes sure the pod checked above is the one deleted, not a namesake created since.
      await this.core.deleteNamespacedPod({ name, namespace, body: { preconditions: { uid: pod.metadata?.uid } } });
    } catch (err) {
      throw toScalerError(err, `deleting worker pod ${namespace}/${name}`);
    }
    this.options.logger.info({ namespace, pod: name }, 'deleted worker pod');
  }

  async list(): Promise<RuntimeWorker[]> {
    return (await this.listPods()).map(toRuntimeWorker);
  }

  private async listPods(): Promise<V1Pod[]> {
    const { namespace, selector } = this.options;
    try {
      return (await this.core.listNamespacedPod({ namespace, labelSelector: formatLabelSelector(selector) })).items;
    } catch (err) {
      throw toScalerError(err, `listing worker pods in ${namespace}`);
    }
  }

  async desired(): Promise<number> {
    const { namespace, deployment } = this.options;
    try {
      const scale = await this.apps.readNamespacedDeploymentScale({ name: deployment, namespace });
      return scale.spec?.replicas ?? 0;
    } catch (err) {
      throw this.deploymentError(err, 'reading the scale of');
    }
  }

  async close(): Promise<void> {
    // Nothing is held open: every call is a separate HTTPS request.
  }

  /** A missing worker Deployment is a deployment problem (WORKER_DEPLOYMENT, POD_NAMESPACE), not a 404 of the request. */
  private deploymentError(err: unknown, doing: string): unknown {
    const { namespace, deployment } = this.options;
    if (apiStatus(err) === 404) {
      return new UnavailableError(`the worker deployment ${namespace}/${deployment} does not exist: check WORKER_DEPLOYMENT and POD_NAMESPACE`);
    }
    return toScalerError(err, `${doing} deployment ${namespace}/${deployment}`);
  }
}

/** Phase as kubectl shows it (a pod being deleted is "Terminating"), readiness from the Ready condition. */
export function toRuntimeWorker(pod: V1Pod): RuntimeWorker {
  const ready = pod.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True') ?? false;
  const phase = pod.metadata?.deletionTimestamp ? 'Terminating' : (pod.status?.phase ?? 'Unknown');
  return {
    name: pod.metadata?.name ?? '',
    phase,
    ready: ready && phase !== 'Terminating',
    ...(pod.spec?.nodeName ? { node: pod.spec.nodeName } : {}),
    ...(pod.metadata?.labels?.[POOL_LABEL] ? { pool: pod.metadata.labels[POOL_LABEL] } : {}),
  };
}
