import type { Pool } from '../../../common/src/db/pool';
import type { HeldTask } from '../../../common/src/grpc/contract';

/*
 * A heartbeat's holdings against the database (docs/architecture.md, "The worker is the truth about what
 * it runs"). $1 worker id, $2/$3 the (task id, attempt) pairs the worker holds, $4 lease ms, $5 only leases
 * running out within that many ms are renewed (so a short task, done long before, is never renewed and a
 * long one every half lease rather than at every beat).
 * Renews exactly the held attempts that the database still gives this worker, and returns the held pairs
 * it does not (finished, cancelled, handed back, or claimed again as a newer attempt): the worker drops
 * them. FOR UPDATE SKIP LOCKED: a row locked now is being finished or handed back and needs no lease;
 * locking rows in the pairs' order deadlocked against the status writes, which lock in report order.
 */
const RECONCILE_HELD = `
  WITH held AS (SELECT * FROM unnest($2::uuid[], $3::int[]) AS h(id, attempt)),
  renewed AS (
    UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $4::int / 1000.0)
    WHERE id = ANY(ARRAY(
      SELECT t.id FROM tasks t JOIN held h ON t.id = h.id AND t.attempt = h.attempt
      WHERE t.worker_id = $1 AND t.status IN ('dispatched', 'running')
        AND t.lease_expires_at < now() + make_interval(secs => $5::int / 1000.0)
      FOR UPDATE OF t SKIP LOCKED))
    RETURNING id)
  SELECT h.id AS task_id, h.attempt FROM held h
  WHERE NOT EXISTS (
    SELECT 1 FROM tasks t
    WHERE t.id = h.id AND t.attempt = h.attempt AND t.worker_id = $1 AND t.status IN ('dispatched', 'running'))`;

/** Renews the held attempts' leases that run out soon; returns the held attempts to drop. */
export async function reconcileHeld(
  pool: Pool, workerId: number, held: readonly HeldTask[], leaseMs: number, horizonMs: number,
): Promise<HeldTask[]> {
  if (held.length === 0) return [];
  const { rows } = await pool.query<HeldTask>({
    name: 'reconcile-held',
    text: RECONCILE_HELD,
    values: [workerId, held.map((t) => t.task_id), held.map((t) => t.attempt), leaseMs, Math.ceil(horizonMs)],
  });
  return rows;
}

/*
 * Older workers list nothing: every lease they hold by worker id is renewed instead (they cannot be told to
 * drop anything). $1 worker id, $2 lease ms, $3 horizon ms as above (NULL: all). Returns the renewed
 * (task id, attempt) pairs: on join, they seed what the coordinator knows the worker holds.
 */
const RENEW_BY_WORKER = `
  UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $2::int / 1000.0)
  WHERE id = ANY(ARRAY(
    SELECT id FROM tasks
    WHERE worker_id = $1 AND status IN ('dispatched', 'running')
      AND ($3::int IS NULL OR lease_expires_at < now() + make_interval(secs => $3::int / 1000.0))
    FOR UPDATE SKIP LOCKED))
  RETURNING id AS task_id, attempt`;

export async function renewByWorker(pool: Pool, workerId: number, leaseMs: number, horizonMs: number | null): Promise<HeldTask[]> {
  const { rows } = await pool.query<HeldTask>({
    name: 'renew-by-worker', text: RENEW_BY_WORKER, values: [workerId, leaseMs, horizonMs === null ? null : Math.ceil(horizonMs)],
  });
  return rows;
}

/** The renewal horizon: half a lease, or two heartbeats if longer, so a lease left alone outlives the next beat. */
export function renewalHorizonMs(leaseMs: number, heartbeatIntervalMs: number): number {
  return Math.min(leaseMs, Math.max(leaseMs / 2, 2 * heartbeatIntervalMs));
}
