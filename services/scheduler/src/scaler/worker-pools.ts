import { ConflictError, NotFoundError } from '../../../common/src/errors';
import { DEFAULT_POOL, type WorkerPoolConfig } from '../../../common/src/worker-pools';
import type { PoolView } from '../api-types';
import type { Scaler } from './scaler';

/** Who sets a pool's replicas (docs/kubernetes.md, "Who owns replicas"), as the API's schema says it. */
export type ReplicaOwner = PoolView['owner'];

/** One worker pool and the scaler that works on its Deployment and pods only. */
export interface PoolScaler {
  readonly config: WorkerPoolConfig;
  readonly scaler: Scaler;
}

/** The pool before pools existed: every worker, under the name "default". */
function defaultPoolConfig(): WorkerPoolConfig {
  return {
    name: DEFAULT_POOL, deployment: '', selector: {}, queues: [], tasks: [],
    autoscaler: { enabled: false, minReplicas: 1, maxReplicas: 10, cooldownMs: 60_000, tasksPerWorker: 5, maxQueueAgeMs: 0 },
  };
}

export function replicaOwner(config: WorkerPoolConfig): ReplicaOwner {
  if (config.keda) return 'keda';
  return config.autoscaler.enabled ? 'autoscaler' : 'manual';
}

/**
 * The worker pools the scheduler scales, by name, and a scaler for every worker whatever its pool (the kill
 * endpoint without a pool, the workers list). A pool the API names that does not exist is a 404 on `pool`;
 * scaling a pool whose replicas KEDA owns is a 409 naming the ScaledObject, since KEDA would undo the change.
 */
export class WorkerPools {
  private readonly byName: ReadonlyMap<string, PoolScaler>;

  constructor(readonly pools: readonly PoolScaler[], readonly anyWorker: Scaler) {
    if (pools.length === 0) throw new Error('WorkerPools needs at least one pool');
    this.byName = new Map(pools.map((pool) => [pool.config.name, pool]));
  }

  /** One pool over the given scaler: compose, local, and tests without pools. */
  static single(scaler: Scaler, config: WorkerPoolConfig = defaultPoolConfig()): WorkerPools {
    return new WorkerPools([{ config, scaler }], scaler);
  }

  /** The pool a request without `pool` means. */
  get defaultPool(): PoolScaler {
    return this.byName.get(DEFAULT_POOL) ?? this.pools[0];
  }

  /** The named pool (the default one when no name is given); NotFoundError on `pool` otherwise. */
  get(name: string | undefined): PoolScaler {
    if (name === undefined) return this.defaultPool;
    const found = this.byName.get(name);
    if (!found) throw new NotFoundError(`pool: no worker pool is named "${name}" (pools: ${[...this.byName.keys()].join(', ')})`, 'pool');
    return found;
  }

  /** The named pool, when its replicas may be set through the API: not while KEDA owns them. */
  scalable(name: string | undefined): PoolScaler {
    const found = this.get(name);
    const { keda, name: pool, deployment } = found.config;
    if (keda) {
      throw new ConflictError(
        `the replicas of worker pool "${pool}" are owned by KEDA (ScaledObject ${keda.scaledObject}), which would undo this change: ` +
        `change its bounds in the ScaledObject (${pool === DEFAULT_POOL ? 'worker.keda' : `workerPools.${pool}.keda`} in the chart's values), or turn KEDA off for the pool to scale ${deployment || 'it'} here`,
      );
    }
    return found;
  }

  async close(): Promise<void> {
    const scalers = new Set([this.anyWorker, ...this.pools.map((pool) => pool.scaler)]);
    await Promise.all([...scalers].map((scaler) => scaler.close()));
  }
}
