import { createPool, waitForDatabase } from '../../common/src/db/pool';
import { runService } from '../../common/src/service-runner';
import { startCoordinator } from './coordinator';

runService('coordinator', async ({ config, logger, onStop }) => {
  const pool = createPool(config.database, logger, 'taskmaster-coordinator');
  onStop(() => pool.end());
  await waitForDatabase(pool, config.database, logger);
  const coordinator = await startCoordinator({
    config: config.coordinator,
    database: config.database,
    pool,
    logger,
    host: config.bindHost,
  });
  onStop(() => coordinator.stop());
});
