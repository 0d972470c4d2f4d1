import type { Config } from '../../../common/src/config';
import type { Logger } from '../../../common/src/logger';
import { LocalScaler } from './local';
import type { Scaler } from './scaler';

/**
 * Picks the scaler backend from SCALER (auto-detected by default: see docs/operations.md). This issue ships
 * the local backend; Kubernetes and compose plug in here.
 */
export async function createScaler(config: Config, logger: Logger): Promise<Scaler> {
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
