import { createPool, waitForDatabase } from '../../common/src/db/pool';
import { startMetricsServer } from '../../common/src/metrics';
import { runService } from '../../common/src/service-runner';
import { startCoordinator } from './coordinator';

runService('coordinator', async ({ config, logger, onStop }) => {
  // First, so /healthz answers and the metrics show the wait while the database is still unreachable.
  const metrics = await startMetricsServer({ host: config.bindHost, port: config.coordinator.metricsPort, logger });
  onStop(() => metrics.close());
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
