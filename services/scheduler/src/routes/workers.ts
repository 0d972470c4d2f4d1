import { Router } from 'express';
import type { Pool } from '../../../common/src/db/pool';
import type { WorkerInfo } from '../../../common/src/grpc/contract';
import type { KillResponse, ScaleResponse, WorkerView, WorkersResponse } from '../api-types';
import { recordOperatorAction } from '../audit';
import type { CoordinatorView } from '../coordinator-view';
import type { RuntimeWorker, Scaler } from '../scaler/scaler';
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
    });
  }
  for (const r of runtime) {
    const view = byName.get(r.name) ?? { name: r.name, state: r.ready ? 'starting' : 'gone' };
    view.runtime = { phase: r.phase, ready: r.ready, ...(r.pid ? { pid: r.pid } : {}), ...(r.node ? { node: r.node } : {}) };
    byName.set(r.name, view);
  }
  return [...byName.values()].sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
}

/** GET /api/workers, POST /api/workers/scale, POST /api/workers/kill. */
export function workerRoutes(pool: Pool, coordinator: CoordinatorView, scaler: Scaler): Router {
  const router = Router();

  router.get('/workers', async (_req, res) => {
    const [registered, runtime, desired] = await Promise.all([coordinator.listWorkers(), scaler.list(), scaler.desired()]);
    res.json({
      workers: mergeWorkers(registered ?? [], runtime),
      scaler: { kind: scaler.kind, desired, actual: runtime.filter((r) => r.ready).length },
      coordinator_reachable: registered !== null,
    } satisfies WorkersResponse);
  });

  router.post('/workers/scale', async (req, res) => {
    const count = parseScaleRequest(req.body);
    const result = await scaler.scale(count);
    await recordOperatorAction(pool, req, `workers scaled to ${count} (${scaler.kind}${result.previous !== null ? `, was ${result.previous}` : ''})`, 'scale');
    req.log.info({ scaler: scaler.kind, requested: count, previous: result.previous }, 'workers scaled');
    res.json({ scaler: scaler.kind, requested: count, previous: result.previous } satisfies ScaleResponse);
  });

  router.post('/workers/kill', async (req, res) => {
    const name = parseKillRequest(req.body);
    await scaler.kill(name);
    await recordOperatorAction(pool, req, `worker ${name} killed (${scaler.kind})`, 'kill');
    req.log.info({ scaler: scaler.kind, name }, 'worker killed');
    res.json({ scaler: scaler.kind, killed: name } satisfies KillResponse);
  });

  return router;
}
