import type { Config } from '../../../common/src/config';
import type { Pool } from '../../../common/src/db/pool';
import type { Logger } from '../../../common/src/logger';
import type { CoordinatorView } from '../coordinator-view';
import { Autoscaler } from './autoscaler';
import type { KubernetesCluster } from './kube-client';
import { LeaseLeaderElector, soleLeader, type LeaderElector } from './leader-election';
import type { Scaler } from './scaler';

export interface AutoscalerDeps {
  scaler: Scaler;
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

/**
 * Starts the autoscaler when AUTOSCALER_ENABLED is set, undefined otherwise. On Kubernetes the scheduler
 * replicas elect a leader through the LEASE_NAME Lease; compose and local run one scheduler, which leads.
 */
export async function startAutoscaler(config: Config, deps: AutoscalerDeps): Promise<Autoscaler | undefined> {
  if (!config.autoscaler.enabled) return undefined;
  const { cluster, logger, ...inputs } = deps;
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
  const { minReplicas, maxReplicas, tasksPerWorker, cooldownMs, intervalMs } = config.autoscaler;
  const autoscaler = new Autoscaler({
    ...inputs,
    elector,
    policy: { minReplicas, maxReplicas, tasksPerWorker, cooldownMs },
    intervalMs,
    logger: autoscalerLogger,
  });
  autoscaler.start();
  return autoscaler;
}
