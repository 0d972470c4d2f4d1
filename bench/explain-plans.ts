import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { insertTasks } from '../services/common/src/db/insert-tasks';
import { migrate } from '../services/common/src/db/migrate';
import { claimDueTasks, nextDueInMs } from '../services/coordinator/src/db/claim-due-tasks';
import { markSucceeded } from '../services/coordinator/src/db/record-transitions';
import { renewExpiringLeases } from '../services/coordinator/src/db/renew-leases';
import { startEmbeddedPostgres } from '../services/local/src/embedded-postgres';

/**
 * `npm run bench -- --explain`: the plans of the hot statements, as the services run them (their own
 * functions, prepared statements and parameters), with EXPLAIN (ANALYZE, BUFFERS) through auto_explain, on
 * a table holding a 100k-task backlog behind 200k finished tasks. Each statement runs a few times first so
 * the plan shown is the one a long-running service uses (PostgreSQL may switch a prepared statement to a
 * generic plan after five runs).
 */
export async function explainPlans(log: (line: string) => void): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-explain-pg-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const postgres = await startEmbeddedPostgres({ dataDir, port, persistent: false, settings: { session_preload_libraries: 'auto_explain' } });
  const pool = new pg.Pool({ connectionString: postgres.adminUrl, max: 1 });
  const plans: string[] = [];
  pool.on('connect', (client) => client.on('notice', (notice) => plans.push(notice.message ?? '')));
  try {
    await migrate(pool);
    log('filling: 200k finished tasks, a 100k backlog due now');
    await pool.query(`INSERT INTO tasks (command, scheduled_at, status, attempt, worker_id, picked_at, started_at, completed_at)
                      SELECT 'noop', now() - interval '1 hour', 'succeeded', 1, 1, now(), now(), now() FROM generate_series(1, 200000)`);
    await insertTasks(pool, Array.from({ length: 100_000 }, () => ({ command: 'noop', scheduledAt: new Date() })));
    await pool.query('VACUUM ANALYZE tasks');
    await pool.query('VACUUM ANALYZE events');
    const plan = Array.from({ length: 500 }, (_, i) => 1 + (i % 3));
    const run = async () => {
      const claimed = await claimDueTasks(pool, plan, 30_000, 250);
      await markSucceeded(pool, claimed.map((task) => ({
        taskId: task.id, attempt: task.attempt, workerId: task.worker_id, atMs: Date.now(), detail: 'ok', startedAtMs: Date.now(),
      })));
      await nextDueInMs(pool);
      await renewExpiringLeases(pool, 1, 30_000, 5000);
      await insertTasks(pool, Array.from({ length: 1000 }, () => ({ command: 'noop', scheduledAt: new Date() })));
    };
    for (let i = 0; i < 6; i++) await run();
    await pool.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
                      SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;
                      SET auto_explain.log_level = notice`);
    plans.length = 0;
    await run();
    // Arrays of 500 ids as parameters say nothing; the plan does.
    return plans.map((text) => text.replace(/^Query Parameters: .*$/m, '')).join('\n\n');
  } finally {
    await pool.end();
    await postgres.stop();
  }
}
