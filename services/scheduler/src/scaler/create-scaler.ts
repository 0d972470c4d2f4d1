import type { Config } from '../../../common/src/config';
import type { Logger } from '../../../common/src/logger';
import { ComposeScaler } from './compose';
import { detectScaler } from './detect-scaler';
import { loadKubernetesCluster, type KubernetesCluster } from './kube-client';
import { KubernetesScaler } from './kubernetes';
import { LocalScaler } from './local';
import type { Scaler } from './scaler';

/** The scaler, and on Kubernetes the cluster it works in, which the autoscaler's leader election shares. */
export interface ScalerBackend {
  scaler: Scaler;
  cluster?: KubernetesCluster;
}

/** Picks the scaler backend from SCALER, auto-detected by default (docs/scaling.md). */
export async function createScaler(config: Config, logger: Logger): Promise<ScalerBackend> {
  const { kind, reason } = detectScaler(config);
  logger.info({ scaler: kind, reason }, `scaler backend: ${kind}`);
  if (kind === 'kubernetes') {
    const cluster = await loadKubernetesCluster(config.kubernetes);
    const scaler = await KubernetesScaler.create({
      ...cluster,
      deployment: config.kubernetes.workerDeployment,
      selector: config.kubernetes.workerSelector,
      logger: logger.child({ component: 'kubernetes-scaler' }),
    });
    return { scaler, cluster };
  }
  if (kind === 'compose') {
    const scaler = new ComposeScaler({
      composeFile: config.scheduler.composeFile,
      project: config.scheduler.composeProject,
      logger: logger.child({ component: 'compose-scaler' }),
    });
    return { scaler };
  }
  const scaler = new LocalScaler({
    logger: logger.child({ component: 'local-scaler' }),
    env: {
      ...process.env,
      COORDINATOR_ADDRESS: config.scheduler.coordinatorAddress,
      WORKER_PORT: '0',
    },
  });
  if (config.scheduler.localWorkers > 0) await scaler.scale(config.scheduler.localWorkers);
  return { scaler };
}
