import type { Config } from '../../../common/src/config';
import type { Logger } from '../../../common/src/logger';
import { ComposeScaler } from './compose';
import { detectScaler } from './detect-scaler';
import { loadKubeConfig, resolveNamespace } from './kube-client';
import { KubernetesScaler } from './kubernetes';
import { LocalScaler } from './local';
import type { Scaler } from './scaler';

/** Picks the scaler backend from SCALER, auto-detected by default (docs/scaling.md). */
export async function createScaler(config: Config, logger: Logger): Promise<Scaler> {
  const { kind, reason } = detectScaler(config);
  logger.info({ scaler: kind, reason }, `scaler backend: ${kind}`);
  if (kind === 'kubernetes') {
    const kubeConfig = await loadKubeConfig(config.kubernetes);
    return KubernetesScaler.create({
      kubeConfig,
      namespace: resolveNamespace(config.kubernetes, kubeConfig),
      deployment: config.kubernetes.workerDeployment,
      selector: config.kubernetes.workerSelector,
      logger: logger.child({ component: 'kubernetes-scaler' }),
    });
  }
  if (kind === 'compose') {
    return new ComposeScaler({
      composeFile: config.scheduler.composeFile,
      project: config.scheduler.composeProject,
      logger: logger.child({ component: 'compose-scaler' }),
    });
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
  return scaler;
}
