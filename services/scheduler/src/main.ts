import type { Server } from 'node:http';
import { createPool, waitForDatabase } from '../../common/src/db/pool';
import { runService } from '../../common/src/service-runner';
import { createApp } from './app';
import { coordinatorView } from './coordinator-view';
import { EventFeed } from './events/event-feed';
import { createScaler } from './scaler/create-scaler';

runService('scheduler', async ({ config, logger, onStop }) => {
  const pool = createPool(config.database, logger, 'taskmaster-scheduler');
  onStop(() => pool.end());
  await waitForDatabase(pool, config.database, logger);

  const coordinator = coordinatorView(config.scheduler.coordinatorAddress);
  onStop(() => coordinator.close());
  const feed = new EventFeed({ pool, database: config.database, logger });
  onStop(() => feed.close());
  const scaler = await createScaler(config, logger);
  onStop(() => scaler.close());

  const app = createApp({
    pool, logger, feed, coordinator, scaler,
    apiToken: config.scheduler.apiToken,
    sseKeepAliveMs: config.scheduler.sseKeepAliveMs,
  });
  const server: Server = await new Promise((resolve, reject) => {
    const listening = app.listen(config.scheduler.port, config.bindHost, () => resolve(listening));
    listening.once('error', reject);
  });
  onStop(() => new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  }));
  const port = (server.address() as { port: number }).port;
  logger.info({ port, scaler: scaler.kind }, `scheduler listening on http://${config.bindHost === '0.0.0.0' ? 'localhost' : config.bindHost}:${port}`);
});
