import type { Pool } from '../../../common/src/db/pool';

/*
 * A live worker's heartbeat renews the leases of what it holds. Old workers cannot list their tasks, so the
 * renewal is by worker id, which serves both. $1 worker id, $2 lease ms, $3 only leases running out within
 * that many ms (NULL: all).
 * FOR UPDATE SKIP LOCKED: a row locked now is being finished or handed back by a concurrent statement and
 * needs no lease. Locking them all in whatever order the scan met them deadlocked against the status
 * writes, which lock theirs in report order (seen under load in the benchmark).
 */
const RENEW_LEASES = `
  UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $2::int / 1000.0)
  WHERE id = ANY(ARRAY(
    SELECT id FROM tasks
    WHERE worker_id = $1 AND status IN ('dispatched', 'running')
      AND ($3::int IS NULL OR lease_expires_at < now() + make_interval(secs => $3::int / 1000.0))
    FOR UPDATE SKIP LOCKED))`;

/** Renews every lease the worker holds; returns how many (a joining worker's in-flight count). */
export async function renewLeases(pool: Pool, workerId: number, leaseMs: number): Promise<number> {
  const result = await pool.query(RENEW_LEASES, [workerId, leaseMs, null]);
  return result.rowCount ?? 0;
}

/*
 * The heartbeat's renewal: only leases running out within half their length, or two heartbeat intervals if
 * that is longer (so a lease left alone still outlives the next beat), so short tasks, done long before,
 * are never renewed and a long one is renewed every half lease rather than at every beat.
 */
export async function renewExpiringLeases(pool: Pool, workerId: number, leaseMs: number, heartbeatIntervalMs: number): Promise<number> {
  const horizonMs = Math.ceil(Math.min(leaseMs, Math.max(leaseMs / 2, 2 * heartbeatIntervalMs)));
  const result = await pool.query(RENEW_LEASES, [workerId, leaseMs, horizonMs]);
  return result.rowCount ?? 0;
}
