import type { Pool } from './pool';

/*
 * Visible now, durable before anyone is told. A commit normally returns, and becomes visible to other
 * sessions, only once its WAL is flushed to disk. On the disks we measured, that flush usually takes well
 * under a millisecond but stalls of 20-400 ms come and go (`npm run bench -- --probes`; docs/performance.md),
 * and PostgreSQL holds its NOTIFY lock through a notifying commit's flush, so every task behind a stall
 * started that much later. The three statements on a task's way commit without waiting for the flush:
 *
 * - the insert of new tasks (insert-tasks.ts), which then calls waitUntilDurable before its caller answers
 *   the client: a 201 still means the task is on disk, while the coordinators can already see and dispatch it;
 * - the coordinator's claim (claim-due-tasks.ts), which acknowledges nothing to anyone. If the database crashes
 *   before the claim reaches the disk, recovery finds the task pending with its previous attempt number, as
 *   if the lease had expired: it runs again (at least once, as after a worker's death). The worker that got
 *   the lost claim reports under an attempt number the database no longer has, or that the next claim
 *   reuses; either way the fence in record-transitions.ts applies at most one finish;
 * - the status writes (record-transitions.ts), which the recorder acknowledges only after waitUntilDurable:
 *   a worker forgets a report once it is acknowledged, so that acknowledgement must survive a crash.
 *
 * Cancels, retries and hand-backs are rare and keep the server's synchronous_commit.
 * test/e2e/crash-durability.test.ts crashes a real server to check the insert's and the claim's side.
 *
 * ASYNC_COMMIT is a CTE that sets synchronous_commit to off for the statement's own transaction
 * (set_config's third argument), so the session and every other statement keep the server's setting.
 * MATERIALIZED and a join to it make it run before the statement writes; should a plan ever skip it, the
 * commit is simply synchronous again, slower but never less safe.
 */
export const ASYNC_COMMIT = `async_commit AS MATERIALIZED (SELECT set_config('synchronous_commit', 'off', true))`;

/*
 * A transaction that writes a record to the WAL (a transactional logical-decoding message, which any role may
 * emit and nothing stores), committed with the server's synchronous_commit: its commit record comes after
 * the commit records of everything committed before it, and the WAL is flushed in order, so when it returns
 * those commits are on disk too (and on synchronous standbys, when the server has them). A transaction that
 * only takes a transaction id, such as SELECT pg_current_xact_id(), wrote nothing before its commit record
 * and so commits asynchronously: PostgreSQL flushes only for transactions that wrote WAL (measured: the crash
 * test lost every task with it).
 */
const FLUSH_COMMITTED = `SELECT pg_logical_emit_message(true, 'taskmaster', 'durable')`;

/** Returns once every transaction committed before the call (by any session) is durable. */
export async function waitUntilDurable(pool: Pool): Promise<void> {
  await pool.query({ name: 'flush-committed', text: FLUSH_COMMITTED });
}
