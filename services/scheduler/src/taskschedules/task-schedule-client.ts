import { apiStatus, loadKubernetesClient, makeApiClient, type KubeConfig, type KubernetesClient } from '../scaler/kube-client';
import { TASK_SCHEDULE_GROUP, TASK_SCHEDULE_PLURAL, TASK_SCHEDULE_VERSION, type TaskSchedule } from './task-schedule';

/** What the controller is told about the namespace's TaskSchedules while it watches them. */
export interface TaskScheduleEvents {
  changed(resource: TaskSchedule): void;
  deleted(resource: TaskSchedule): void;
  /** The watch failed (or its list did) and stopped; the controller starts it again later. */
  failed(err: unknown): void;
}

/** A running watch of the namespace's TaskSchedules, with the objects it has seen. */
export interface TaskScheduleWatch {
  /** The objects as last seen by the watch (its cache). */
  cached(): readonly TaskSchedule[];
  stop(): Promise<void>;
}

/** The TaskSchedule API of one namespace, as the reconciler uses it; a fake in unit tests. */
export interface TaskScheduleApi {
  readonly namespace: string;
  /** Every resource, in one list (the resync's authoritative view). */
  list(): Promise<TaskSchedule[]>;
  /** A JSON merge patch of the status subresource; a resource deleted meanwhile (404) is ignored. */
  patchStatus(name: string, patch: { status: Record<string, unknown> }): Promise<void>;
  /** Lists, then watches from that list's resourceVersion (client-node's ListWatch informer). */
  watch(events: TaskScheduleEvents): Promise<TaskScheduleWatch>;
}

/** The API server's TaskSchedule endpoints through @kubernetes/client-node (timeouts from makeApiClient). */
export class KubernetesTaskScheduleApi implements TaskScheduleApi {
  private constructor(
    readonly namespace: string,
    private readonly kubeConfig: KubeConfig,
    private readonly client: KubernetesClient,
    private readonly api: InstanceType<KubernetesClient['CustomObjectsApi']>,
  ) {}

  static async create(kubeConfig: KubeConfig, namespace: string): Promise<KubernetesTaskScheduleApi> {
    const client = await loadKubernetesClient();
    return new KubernetesTaskScheduleApi(namespace, kubeConfig, client, makeApiClient(client, kubeConfig, client.CustomObjectsApi));
  }

  private get coordinates() {
    return { group: TASK_SCHEDULE_GROUP, version: TASK_SCHEDULE_VERSION, namespace: this.namespace, plural: TASK_SCHEDULE_PLURAL };
  }

  async list(): Promise<TaskSchedule[]> {
    const list = (await this.api.listNamespacedCustomObject(this.coordinates)) as { items?: TaskSchedule[] };
    return list.items ?? [];
  }

  async patchStatus(name: string, patch: { status: Record<string, unknown> }): Promise<void> {
    try {
      // A merge patch, as kubectl sends: the generated client would otherwise send a JSON patch (a list of operations).
      await this.api.patchNamespacedCustomObjectStatus(
        { ...this.coordinates, name, body: patch },
        this.client.setHeaderOptions('Content-Type', this.client.PatchStrategy.MergePatch),
      );
    } catch (err) {
      if (apiStatus(err) !== 404) throw err;
    }
  }

  async watch(events: TaskScheduleEvents): Promise<TaskScheduleWatch> {
    const path = `/apis/${TASK_SCHEDULE_GROUP}/${TASK_SCHEDULE_VERSION}/namespaces/${this.namespace}/${TASK_SCHEDULE_PLURAL}`;
    const informer = this.client.makeInformer<TaskSchedule & { metadata: { name: string } }>(
      this.kubeConfig,
      path,
      () => this.api.listNamespacedCustomObject(this.coordinates),
    );
    informer.on('add', (resource) => events.changed(resource));
    informer.on('update', (resource) => events.changed(resource));
    informer.on('delete', (resource) => events.deleted(resource));
    informer.on('error', (err) => events.failed(err));
    await informer.start();
    return { cached: () => informer.list(this.namespace), stop: () => informer.stop() };
  }
}
