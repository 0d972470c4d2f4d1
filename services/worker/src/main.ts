import { startMetricsServer } from '../../common/src/metrics';
import { runService } from '../../common/src/service-runner';
import { startServiceWorker } from './worker';

runService('worker', async ({ config, logger, onStop }) => {
  const workerLogger = logger.child({ worker: config.worker.name });
  const metrics = await startMetricsServer({ host: config.bindHost, port: config.worker.metricsPort, logger: workerLogger });
  onStop(() => metrics.close());
  const worker = await startServiceWorker(config.worker, workerLogger, config.bindHost, config.grpc.tls);
  onStop(() => worker.stop());
});
