import { Router } from 'express';
import type { Pool } from '../../../common/src/db/pool';
import type { WorkerInfo } from '../../../common/src/grpc/contract';
import { DEFAULT_POOL } from '../../../common/src/worker-pools';
import type { KillResponse, PoolView, ScaleResponse, WorkerView, WorkersResponse } from '../api-types';
import { recordOperatorAction } from '../audit';
import type { CoordinatorView } from '../coordinator-view';
import type { RuntimeWorker } from '../scaler/scaler';
import { replicaOwner, type PoolScaler, type WorkerPools } from '../scaler/worker-pools';
import { parseKillRequest, parseScaleRequest } from '../validation';

/** Merges the coordinator's registry with the platform's view, by worker name. */
export function mergeWorkers(registered: readonly WorkerInfo[], runtime: readonly RuntimeWorker[]): WorkerView[] {
  const byName = new Map<string, WorkerView>();
  for (const w of registered) {
    byName.set(w.name, {
      name: w.name,
      worker_id: w.workerId,
      address: w.address,
      state: w.draining ? 'draining' : 'alive',
      slots_total: w.slots_total,
      slots_busy: w.slots_busy,
      in_flight: w.in_flight,
      last_heartbeat_at: new Date(w.last_heartbeat_ms).toISOString(),
      heartbeat_misses: w.heartbeat_misses,
      handles: w.handles,
      command_tasks: w.command_tasks,
      ...(w.queues?.length ? { queues: w.queues } : {}),
    });
  }
  for (const r of runtime) {
    const view = byName.get(r.name) ?? { name: r.name, state: r.ready ? 'starting' : 'gone' };
    view.runtime = { phase: r.phase, ready: r.ready, ...(r.pid ? { pid: r.pid } : {}), ...(r.node ? { node: r.node } : {}) };
    if (r.pool) view.pool = r.pool;
    byName.set(r.name, view);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** A pool as GET /api/workers shows it, with its own desired and ready counts; `listed`: its workers, when already asked for. */
async function poolView({ config, scaler }: PoolScaler, listed?: Promise<RuntimeWorker[]>): Promise<PoolView> {
  const [desired, runtime] = await Promise.all([scaler.desired(), listed ?? scaler.list()]);
  const owner = replicaOwner(config);
  return {
    name: config.name,
    deployment: config.deployment,
    owner,
    ...(config.keda ? { scaled_object: config.keda.scaledObject } : {}),
    desired,
    actual: runtime.filter((r) => r.ready).length,
    queues: [...config.queues],
    tasks: [...config.tasks],
    ...(owner === 'autoscaler' ? { min_replicas: config.autoscaler.minReplicas, max_replicas: config.autoscaler.maxReplicas } : {}),
  };
}

/** "workers" for the default pool, "workers of pool reports" for another: the audit events read as before pools. */
const whose = (name: string) => (name === DEFAULT_POOL ? 'workers' : `workers of pool ${name}`);

/** GET /api/workers, POST /api/workers/scale, POST /api/workers/kill, each per worker pool. */
export function workerRoutes(pool: Pool, coordinator: CoordinatorView, workerPools: WorkerPools): Router {
  const router = Router();
  const scaler = workerPools.anyWorker;

  router.get('/workers', async (_req, res) => {
    const listed = scaler.list();
    // A single pool's scaler is the one that lists every worker: its pods are listed once.
    const [registered, runtime, pools] = await Promise.all([
      coordinator.listWorkers(), listed, Promise.all(workerPools.pools.map((p) => poolView(p, p.scaler === scaler ? listed : undefined))),
    ]);
    const defaultView = pools.find((view) => view.name === workerPools.defaultPool.config.name) ?? pools[0];
    res.json({
      workers: mergeWorkers(registered ?? [], runtime),
      scaler: { kind: scaler.kind, desired: defaultView.desired, actual: defaultView.actual },
      pools,
      coordinator_reachable: registered !== null,
    } satisfies WorkersResponse);
  });

  router.post('/workers/scale', async (req, res) => {
    const { count, pool: poolName } = parseScaleRequest(req.body);
    const { config, scaler: poolScaler } = workerPools.scalable(poolName);
    const result = await poolScaler.scale(count);
    const was = result.previous !== null ? `, was ${result.previous}` : '';
    await recordOperatorAction(pool, req, `${whose(config.name)} scaled to ${count} (${poolScaler.kind}${was})`, 'scale');
    req.log.info({ scaler: poolScaler.kind, pool: config.name, requested: count, previous: result.previous }, 'workers scaled');
    res.json({ scaler: poolScaler.kind, pool: config.name, requested: count, previous: result.previous } satisfies ScaleResponse);
  });

  router.post('/workers/kill', async (req, res) => {
    const { name, pool: poolName } = parseKillRequest(req.body);
    // Without a pool any worker of the release may be killed; with one, only a pod of that pool.
    const target = poolName === undefined ? scaler : workerPools.get(poolName).scaler;
    await target.kill(name);
    await recordOperatorAction(pool, req, `worker ${name} killed (${target.kind}${poolName ? `, pool ${poolName}` : ''})`, 'kill');
    req.log.info({ scaler: target.kind, pool: poolName, name }, 'worker killed');
    res.json({ scaler: target.kind, ...(poolName ? { pool: poolName } : {}), killed: name } satisfies KillResponse);
  });

  return router;
}
