import { startMetricsServer } from '../../common/src/metrics';
import { runService } from '../../common/src/service-runner';
import { observeFinished, observeStarted } from './metrics';
import { startWorker } from './worker';

runService('worker', async ({ config, logger, onStop }) => {
  const workerLogger = logger.child({ worker: config.worker.name });
  const metrics = await startMetricsServer({ host: config.bindHost, port: config.worker.metricsPort, logger: workerLogger });
  onStop(() => metrics.close());
  const worker = await startWorker({
    config: config.worker,
    logger: workerLogger,
    host: config.bindHost,
    onStarted: observeStarted,
    onFinished: observeFinished,
  });
  onStop(() => worker.drain());
});
