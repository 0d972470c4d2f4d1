import type { Config } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import { loadKubernetesCluster, type KubernetesCluster } from '../scaler/kube-client';
import { LeaseLeaderElector } from '../scaler/leader-election';
import { KubernetesTaskScheduleApi } from './task-schedule-client';
import { TaskScheduleController } from './task-schedule-controller';
import { TaskScheduleReconciler } from './task-schedule-reconciler';

export interface TaskSchedulesDeps {
  pool: Pool;
  /** The scaler's cluster when the scaler is Kubernetes; otherwise loaded from KUBECONFIG or the pod. */
  cluster?: KubernetesCluster;
  logger: Logger;
}

/** client-go's default lease; renewed every third of it, as the autoscaler's is. */
const LEASE_DURATION_MS = 15_000;

/**
 * Starts the TaskSchedule reconciler when TASK_SCHEDULES_ENABLED is set, undefined otherwise. Every replica
 * runs one; the replica holding the TASK_SCHEDULES_LEASE_NAME Lease (in the watched namespace) reconciles.
 */
export async function startTaskSchedules(config: Config, deps: TaskSchedulesDeps): Promise<TaskScheduleController | undefined> {
  const settings = config.taskSchedules;
  if (!settings.enabled) return undefined;
  const cluster = deps.cluster ?? (await loadKubernetesCluster(config.kubernetes));
  const namespace = settings.namespace ?? cluster.namespace;
  const logger = deps.logger.child({ component: 'taskschedules', namespace });
  const api = await KubernetesTaskScheduleApi.create(cluster.kubeConfig, namespace);
  const elector = await LeaseLeaderElector.create({
    kubeConfig: cluster.kubeConfig,
    namespace,
    name: settings.leaseName,
    identity: config.kubernetes.identity,
    leaseDurationMs: LEASE_DURATION_MS,
    purpose: 'TaskSchedule reconciler',
    logger,
  });
  const reconciler = new TaskScheduleReconciler({
    pool: deps.pool,
    namespace,
    writeStatus: (name, patch) => api.patchStatus(name, patch),
    limits: { payloadMaxBytes: config.scheduler.payloadMaxBytes },
    logger,
  });
  const controller = new TaskScheduleController({
    api,
    reconciler,
    elector,
    leaseCheckMs: LEASE_DURATION_MS / 3,
    resyncMs: settings.resyncMs,
    statusIntervalMs: settings.statusIntervalMs,
    logger,
  });
  await controller.start();
  logger.info({ lease: settings.leaseName, leading: controller.isLeading }, 'TaskSchedule reconciler started');
  return controller;
}
