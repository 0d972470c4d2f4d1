import type { Config } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import type { CoordinatorView } from '../coordinator-view';
import { Autoscaler, type AutoscaledPool } from './autoscaler';
import type { KubernetesCluster } from './kube-client';
import { LeaseLeaderElector, soleLeader, type LeaderElector } from './leader-election';
import type { WorkerPools } from './worker-pools';

export interface AutoscalerDeps {
  /** The worker pools; those whose autoscaler is on are sized. */
  pools: WorkerPools;
  /** The scaler's cluster, when it is Kubernetes: the replicas elect their leader through a Lease there. */
  cluster?: KubernetesCluster;
  pool: Pool;
  coordinator: CoordinatorView;
  logger: Logger;
}

/** client-go's default lease; at least three passes so that one slow pass does not cost the lease. */
function leaseDurationMs(intervalMs: number): number {
  return Math.max(15_000, 3 * intervalMs);
}

/** The pools the autoscaler sizes: those with their autoscaler on (never a pool KEDA owns; WORKER_POOLS refuses both). */
function autoscaledPools(pools: WorkerPools): AutoscaledPool[] {
  const single = pools.pools.length === 1;
  return pools.pools.filter(({ config }) => config.autoscaler.enabled && !config.keda).map(({ config, scaler }) => {
    const { minReplicas, maxReplicas, tasksPerWorker, cooldownMs, maxQueueAgeMs } = config.autoscaler;
    return {
      name: config.name,
      scaler,
      policy: { minReplicas, maxReplicas, tasksPerWorker, cooldownMs, maxQueueAgeMs },
      queues: config.queues,
      tasks: config.tasks,
      allWorkers: single,
    };
  });
}

/**
 * Starts the autoscaler when AUTOSCALER_ENABLED is set and some pool has its autoscaler on, undefined
 * otherwise. On Kubernetes the scheduler replicas elect a leader through the LEASE_NAME Lease; compose and
 * local run one scheduler, which leads.
 */
export async function startAutoscaler(config: Config, deps: AutoscalerDeps): Promise<Autoscaler | undefined> {
  if (!config.autoscaler.enabled) return undefined;
  const { cluster, logger, pools: workerPools, ...inputs } = deps;
  const pools = autoscaledPools(workerPools);
  if (pools.length === 0) {
    logger.warn('AUTOSCALER_ENABLED is set but no worker pool has its autoscaler on (WORKER_POOLS): nothing to size');
    return undefined;
  }
  const { identity, leaseName } = config.kubernetes;
  const autoscalerLogger = logger.child({ component: 'autoscaler' });
  let elector: LeaderElector = soleLeader(identity);
  if (cluster) {
    elector = await LeaseLeaderElector.create({
      ...cluster,
      name: leaseName,
      identity,
      leaseDurationMs: leaseDurationMs(config.autoscaler.intervalMs),
      logger: autoscalerLogger,
    });
  }
  const autoscaler = new Autoscaler({
    ...inputs,
    pools,
    elector,
    intervalMs: config.autoscaler.intervalMs,
    logger: autoscalerLogger,
  });
  autoscaler.start();
  return autoscaler;
}
