import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { insertTasks } from '../services/common/src/db/insert-tasks';
import { measureQueue } from '../services/common/src/db/measure-queue';
import { setConcurrencyLimit, setQueueControls } from '../services/common/src/db/queue-controls';
import { migrate } from '../services/common/src/db/migrate';
import { SEARCH_PATH_OPTIONS } from '../services/common/src/db/pool';
import { claimDueTasks, nextDueInMs } from '../services/coordinator/src/db/claim-due-tasks';
import { markSucceeded } from '../services/coordinator/src/db/record-transitions';
import { reconcileHeld } from '../services/coordinator/src/db/reconcile-holdings';
import { startEmbeddedPostgres } from '../services/local/src/embedded-postgres';
import { listTasks, type ListTasksQuery } from '../services/scheduler/src/db/tasks';

/** The shipped worker's kind: command tasks and the built-in names. */
const COMMAND_WORKERS = { names: ['demo-job', 'fail', 'noop', 'sleep'], commandTasks: true, commandsWithoutPayload: false };
/** A worker that also runs the gated task types of the second part. */
const GATED_WORKERS = { ...COMMAND_WORKERS, names: [...COMMAND_WORKERS.names, 'charge', 'report'] };

/**
 * `npm run bench -- --explain`: the plans of the hot statements, as the services run them (their own
 * functions, prepared statements and parameters), with EXPLAIN (ANALYZE, BUFFERS) through auto_explain, on
 * a table holding a 100k-task backlog behind 200k finished tasks; a fifth of the backlog has a priority (above or
 * below 0), and 1,000 tasks of high priority are due in an hour, which the claim must read past. Each statement runs a few times first so
 * the plan shown is the one a long-running service uses (PostgreSQL may switch a prepared statement to a
 * generic plan after five runs). Then the same with gates (migration 0017): a queue limited to 50 running
 * with 20,000 tasks, and a task type limited to one per customer with 20,000 tasks over 2,000 customers,
 * 10,000 more of one customer first in line, all of which the claim must not read.
 */
export async function explainPlans(log: (line: string) => void): Promise<string> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-explain-pg-'));
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const postgres = await startEmbeddedPostgres({ dataDir, port, persistent: false, settings: { session_preload_libraries: 'auto_explain' } });
  const pool = new pg.Pool({ connectionString: postgres.adminUrl, max: 1, options: SEARCH_PATH_OPTIONS });
  const plans: string[] = [];
  pool.on('connect', (client) => client.on('notice', (notice) => plans.push(notice.message ?? '')));
  try {
    await migrate(pool);
    log('filling: 200k finished tasks, a 100k backlog due now (a fifth with priorities), 1,000 urgent tasks due in an hour');
    await pool.query(`INSERT INTO tasks (command, scheduled_at, status, attempt, worker_id, picked_at, started_at, completed_at)
                      SELECT 'noop', now() - interval '1 hour', 'succeeded', 1, 1, now(), now(), now() FROM generate_series(1, 200000)`);
    const priorities = [0, 0, 0, 0, 0, 0, 0, 0, 5, -5];
    await insertTasks(pool, Array.from({ length: 100_000 }, (_, i) => ({ command: 'noop', scheduledAt: new Date(), priority: priorities[i % 10] })));
    await insertTasks(pool, Array.from({ length: 1000 }, () => ({ command: 'noop', scheduledAt: new Date(Date.now() + 3_600_000), priority: 100 })));
    await pool.query('VACUUM ANALYZE tasks');
    await pool.query('VACUUM ANALYZE events');
    const plan = Array.from({ length: 500 }, (_, i) => 1 + (i % 3));
    const run = async () => {
      // No gate exists yet: the claim a coordinator runs then (gatesInUse), without the gated branches.
      const claimed = await claimDueTasks(pool, plan, COMMAND_WORKERS, 30_000, 250, false);
      const held = await pool.query("SELECT id AS task_id, attempt FROM tasks WHERE status IN ('dispatched', 'running') AND worker_id = 1 LIMIT 1000");
      await markSucceeded(pool, claimed.map((task) => ({
        taskId: task.id, attempt: task.attempt, heldBy: null, atMs: Date.now(), detail: '"ok"', startedAtMs: Date.now(),
      })));
      await nextDueInMs(pool, false);
      await reconcileHeld(pool, 1, held.rows, 30_000, 15_000);
      await insertTasks(pool, Array.from({ length: 1000 }, () => ({ command: 'noop', scheduledAt: new Date() })));
    };
    for (let i = 0; i < 6; i++) await run();
    await pool.query(`SET auto_explain.log_min_duration = 0; SET auto_explain.log_analyze = on;
                      SET auto_explain.log_buffers = on; SET auto_explain.log_nested_statements = on;
                      SET auto_explain.log_level = notice`);
    plans.length = 0;
    await run();
    await pool.query('SET auto_explain.log_min_duration = -1');
    const pages = await timeTaskPages(pool);
    const ungated = [...plans];

    log('filling: a queue limited to 50 running with 20k tasks; one per customer for 20k tasks over 2,000 customers behind 10k of one');
    await setQueueControls(pool, 'throttled', { maxRunning: 50 });
    await setConcurrencyLimit(pool, 'charge', { keyField: 'customer', maxRunning: 1 }, 'api');
    const earlier = new Date(Date.now() - 60_000);
    await insertTasks(pool, Array.from({ length: 10_000 }, () => ({ name: 'charge', payload: { customer: 'hog' }, scheduledAt: earlier })));
    await insertTasks(pool, Array.from({ length: 20_000 }, (_, i) => ({ name: 'charge', payload: { customer: `c${i % 2000}` }, scheduledAt: new Date() })));
    await insertTasks(pool, Array.from({ length: 20_000 }, () => ({ name: 'report', queue: 'throttled', payload: {}, scheduledAt: new Date() })));
    await pool.query('VACUUM ANALYZE tasks');
    await pool.query('ANALYZE concurrency_keys');
    const gatedRun = async () => {
      const claimed = await claimDueTasks(pool, plan, GATED_WORKERS, 30_000, 250, true);
      await markSucceeded(pool, claimed.map((task) => ({
        taskId: task.id, attempt: task.attempt, heldBy: null, atMs: Date.now(), detail: '"ok"', startedAtMs: Date.now(),
      })));
      await nextDueInMs(pool, true);
      await measureQueue(pool);
    };
    for (let i = 0; i < 6; i++) await gatedRun();
    await pool.query(`SET auto_explain.log_min_duration = 0`);
    plans.length = 0;
    await gatedRun();
    await pool.query('SET auto_explain.log_min_duration = -1');
    const gated = ['-- With gates: --', ...plans];
    plans.length = 0;
    plans.push(...ungated, ...gated);
    // Arrays of 500 ids as parameters say nothing; the plan does.
    return [...plans.map((text) => text.replace(/^Query Parameters: .*$/m, '')), pages].join('\n\n');
  } finally {
    await pool.end();
    await postgres.stop();
  }
}

/**
 * GET /api/tasks pages on the same table (300k tasks): mean ms of 20 runs each, first pages and a page deep
 * in the history, which a keyset cursor makes cost what the first costs (OFFSET would read every row before).
 */
async function timeTaskPages(pool: pg.Pool): Promise<string> {
  const base: ListTasksQuery = { statuses: [], limit: 50, order: 'desc' };
  const { rows: [deep] } = await pool.query('SELECT scheduled_at, id FROM tasks ORDER BY scheduled_at DESC, id DESC OFFSET 250000 LIMIT 1');
  const cases: Array<[string, ListTasksQuery]> = [
    ['all tasks, first page', base],
    ['all tasks, page at row 250,000', { ...base, after: { scheduledAt: deep.scheduled_at, id: deep.id } }],
    ['pending, first page', { ...base, statuses: ['pending'] }],
    ['succeeded, first page', { ...base, statuses: ['succeeded'] }],
    ['command prefix "no"', { ...base, commandPrefix: 'no' }],
  ];
  const lines = ['GET /api/tasks, 50 per page (mean of 20 runs):'];
  for (const [label, query] of cases) {
    await listTasks(pool, query);
    const start = process.hrtime.bigint();
    for (let i = 0; i < 20; i++) await listTasks(pool, query);
    lines.push(`  ${label.padEnd(34)} ${(Number(process.hrtime.bigint() - start) / 20e6).toFixed(2)} ms`);
  }
  return lines.join('\n');
}
