import { runService } from '../../common/src/service-runner';
import { startWorker } from './worker';

runService('worker', async ({ config, logger, onStop }) => {
  const worker = await startWorker({ config: config.worker, logger: logger.child({ worker: config.worker.name }), host: config.bindHost });
  onStop(() => worker.drain());
});
