import { createPool, waitForDatabase } from '../../common/src/db/pool';
import { startMetricsServer } from '../../common/src/metrics';
import { runService } from '../../common/src/service-runner';
import { startCoordinator } from './coordinator';

/*
 * The coordinator's statements read their indexes in key order (the claim takes the first due tasks by
 * scheduled_at, id). A bitmap scan loses that order, and on statistics taken before a backlog fell due the
 * planner chose one for the claim and sorted the whole backlog on every claim (docs/performance.md).
 */
const COORDINATOR_SESSION_OPTIONS = '-c enable_bitmapscan=off';

runService('coordinator', async ({ config, logger, onStop }) => {
  // First, so /healthz answers and the metrics show the wait while the database is still unreachable.
  const metrics = await startMetricsServer({ host: config.bindHost, port: config.coordinator.metricsPort, logger });
  onStop(() => metrics.close());
  const pool = createPool(config.database, logger, 'taskmaster-coordinator', { sessionOptions: COORDINATOR_SESSION_OPTIONS });
  onStop(() => pool.end());
  await waitForDatabase(pool, config.database, logger);
  const coordinator = await startCoordinator({
    config: config.coordinator,
    database: config.database,
    pool,
    logger,
    host: config.bindHost,
    grpc: config.grpc,
  });
  onStop(() => coordinator.stop());
});
