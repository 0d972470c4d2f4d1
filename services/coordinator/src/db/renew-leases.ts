import type { Pool } from '../../../common/src/db/pool';

/*
 * A live worker's heartbeat renews the leases of everything it holds. Old workers cannot list their tasks,
 * so the renewal is by worker id, which serves both.
 */
const RENEW_LEASES = `
  UPDATE tasks SET lease_expires_at = now() + make_interval(secs => $2::int / 1000.0)
  WHERE worker_id = $1 AND status IN ('dispatched', 'running')`;

export async function renewLeases(pool: Pool, workerId: number, leaseMs: number): Promise<number> {
  const result = await pool.query(RENEW_LEASES, [workerId, leaseMs]);
  return result.rowCount ?? 0;
}
