import type { Config } from '../../../common/src/config';
import type { Logger } from '../../../common/src/logger';
import { ComposeScaler } from './compose';
import { detectScaler } from './detect-scaler';
import { loadKubernetesCluster, type KubernetesCluster } from './kube-client';
import { KubernetesScaler } from './kubernetes';
import { LocalScaler } from './local';
import type { Scaler } from './scaler';
import { WorkerPools } from './worker-pools';
import type { CoordinatorView } from '../coordinator-view';
import { DEFAULT_POOL, describePool } from '../../../common/src/worker-pools';

/**
 * The scaler, and on Kubernetes the cluster it works in, which the autoscaler's leader election shares. `scaler`
 * sees every worker whatever its pool; `pools` scale one Deployment each (a single pool off Kubernetes).
 */
export interface ScalerBackend {
  scaler: Scaler;
  pools: WorkerPools;
  cluster?: KubernetesCluster;
}

/** What a scale-down ranks pods by: the tasks each worker holds, by name, from the coordinators. */
export function workloadOf(coordinator: CoordinatorView): () => Promise<ReadonlyMap<string, number> | null> {
  return async () => {
    const workers = await coordinator.listWorkers();
    return workers && new Map(workers.map((worker) => [worker.name, worker.in_flight]));
  };
}

/**
 * Picks the scaler backend from SCALER, auto-detected by default (docs/scaling.md). `wrap` decorates every
 * scaler made (the metrics); `coordinator`, when given, lets a Kubernetes scale-down remove idle workers first.
 */
export async function createScaler(
  config: Config, logger: Logger, options: { coordinator?: CoordinatorView; wrap?: (scaler: Scaler) => Scaler } = {},
): Promise<ScalerBackend> {
  const { kind, reason } = detectScaler(config);
  const wrap = options.wrap ?? ((scaler: Scaler) => scaler);
  logger.info({ scaler: kind, reason }, `scaler backend: ${kind}`);
  if (kind === 'kubernetes') {
    const cluster = await loadKubernetesCluster(config.kubernetes);
    const scalerLogger = logger.child({ component: 'kubernetes-scaler' });
    const scaler = wrap(await KubernetesScaler.create({
      ...cluster,
      deployment: config.kubernetes.workerDeployment,
      selector: config.kubernetes.workerSelector,
      logger: scalerLogger,
    }));
    const pools = await Promise.all(config.workerPools.map(async (pool) => ({
      config: pool,
      scaler: wrap(await KubernetesScaler.create({
        ...cluster,
        deployment: pool.deployment,
        selector: pool.selector,
        logger: scalerLogger.child({ pool: pool.name }),
        ...(options.coordinator ? { workload: workloadOf(options.coordinator) } : {}),
      })),
    })));
    for (const pool of config.workerPools) logger.info({ pool: pool.name }, `worker pool ${describePool(pool)}`);
    return { scaler, pools: new WorkerPools(pools, scaler), cluster };
  }
  if (config.workerPools.length > 1) {
    logger.warn({ pools: config.workerPools.map((pool) => pool.name) }, `WORKER_POOLS names several pools, which only the Kubernetes scaler has; ${kind} runs the default pool alone`);
  }
  const single = (scaler: Scaler): ScalerBackend => {
    const wrapped = wrap(scaler);
    const defaultPool = config.workerPools.find((pool) => pool.name === DEFAULT_POOL) ?? config.workerPools[0];
    return { scaler: wrapped, pools: WorkerPools.single(wrapped, defaultPool) };
  };
  if (kind === 'compose') {
    const scaler = new ComposeScaler({
      composeFile: config.scheduler.composeFile,
      project: config.scheduler.composeProject,
      logger: logger.child({ component: 'compose-scaler' }),
    });
    return single(scaler);
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
  return single(scaler);
}
