import { createPool, waitForDatabase } from '../../common/src/db/pool';
import { runService } from '../../common/src/service-runner';
import { closeHttp, listenHttp } from '../../common/src/listen-http';
import { createApp } from './app';
import { resolveApiAccess } from './auth';
import { OidcVerifier } from './oidc';
import { defaultAllowedHosts } from './hardening';
import { coordinatorView } from './coordinator-view';
import { EventFeed } from './events/event-feed';
import { instrumentScaler, metricsRoutes } from './metrics';
import { startAutoscaler } from './scaler/create-autoscaler';
import { createScaler } from './scaler/create-scaler';
import { startTaskSchedules } from './taskschedules/start-task-schedules';

runService('scheduler', async ({ config, logger, onStop }) => {
  // Decided before anything starts: a scheduler that would serve an open API on the network does not start.
  const oidc = config.scheduler.oidc && new OidcVerifier(config.scheduler.oidc, logger);
  const access = resolveApiAccess({ tokens: config.scheduler.apiTokens, auth: config.scheduler.auth, bindHost: config.bindHost, oidc });
  if (access.warning) logger.warn(access.warning);
  else if (access.auth.open) logger.info(`the API is open: bound to ${config.bindHost} (loopback) with no API token configured`);
  const pool = createPool(config.database, logger, 'taskmaster-scheduler');
  onStop(() => pool.end());
  await waitForDatabase(pool, config.database, logger);

  const coordinator = coordinatorView(config.scheduler.coordinatorsAddress, undefined, undefined, { tls: config.grpc.tls, token: config.scheduler.coordinatorToken });
  onStop(() => coordinator.close());
  const feed = new EventFeed({ pool, database: config.database, logger });
  onStop(() => feed.close());
  const backend = await createScaler(config, logger, { coordinator, wrap: instrumentScaler });
  const { scaler, pools: workerPools } = backend;
  onStop(() => workerPools.close());
  // Registered after the scaler, so it stops (and gives its lease up) before the scaler closes.
  const autoscaler = await startAutoscaler(config, { pools: workerPools, cluster: backend.cluster, pool, coordinator, logger });
  if (autoscaler) onStop(() => autoscaler.stop());
  const taskSchedules = await startTaskSchedules(config, { pool, cluster: backend.cluster, logger });
  if (taskSchedules) onStop(() => taskSchedules.stop());

  const app = createApp({
    pool, logger, feed, coordinator, scaler, workerPools,
    auth: access.auth,
    sseKeepAliveMs: config.scheduler.sseKeepAliveMs,
    payloadMaxBytes: config.scheduler.payloadMaxBytes,
    idempotencyKeyTtlMs: config.scheduler.idempotencyKeyTtlMs,
    retention: config.scheduler.retention,
    bodyMaxBytes: config.scheduler.bodyMaxBytes,
    allowedHosts: config.scheduler.allowedHosts ?? defaultAllowedHosts(config.bindHost),
    rateLimitPerMinute: config.scheduler.rateLimitPerMinute,
    trustProxy: config.scheduler.trustProxy,
    sseMaxClients: config.scheduler.sseMaxClients,
    sseMaxResume: config.scheduler.sseMaxResume,
    extraRoutes: metricsRoutes(),
    protectMetrics: config.scheduler.metricsAuth === 'token',
  });
  const server = await listenHttp(app, config.scheduler.port, config.bindHost, 'SCHEDULER_PORT');
  onStop(() => closeHttp(server));
  const port = (server.address() as { port: number }).port;
  logger.info({ port, scaler: scaler.kind }, `scheduler listening on http://${config.bindHost === '0.0.0.0' ? 'localhost' : config.bindHost}:${port}`);
});
