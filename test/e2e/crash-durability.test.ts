import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { migrate } from '../../services/common/src/db/migrate';
import { SEARCH_PATH_OPTIONS } from '../../services/common/src/db/pool';
import { createLogger } from '../../services/common/src/logger';
import { claimDueTasks } from '../../services/coordinator/src/db/claim-due-tasks';
import { StatusRecorder } from '../../services/coordinator/src/status-recorder';
import { freePort } from '../helpers/ports';
import { startPostgres, stopPostgres } from '../helpers/private-postgres';

/*
 * The insert, the claim and the status writes commit without waiting for the disk
 * (services/common/src/db/durability.ts). This crashes a real PostgreSQL right after inserts and status
 * reports were acknowledged and claims made, and checks what recovery finds: every acknowledged task and
 * every acknowledged finish, and no claim that lost its task.
 * The server's WAL writer is told to wait 10 s between rounds, so whatever insertTasks did not itself make
 * durable before returning is still in PostgreSQL's memory when the crash (an immediate shutdown, which
 * writes nothing) comes: without the wait in insertTasks, this test loses tasks.
 */
const SETTINGS = ['wal_writer_delay=10000'];

/** Crashes the server: SIGQUIT is PostgreSQL's immediate shutdown, which writes nothing and recovers from WAL at the next start. */
async function crash(dataDir: string): Promise<void> {
  const postmaster = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  process.kill(postmaster, 'SIGQUIT');
  for (;;) {
    try {
      process.kill(postmaster, 0);
    } catch {
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-crash-pg-'));
let server: ChildProcess | undefined;

afterAll(async () => {
  if (server) await stopPostgres(server);
  rmSync(dataDir, { recursive: true, force: true });
});

test('acknowledged tasks and reports survive a database crash; a claim lost in it leaves its task pending', async () => {
  const port = await freePort();
  let started = await startPostgres(dataDir, port, SETTINGS);
  server = started.child;
  const before = new pg.Pool({ connectionString: started.url, max: 4, options: SEARCH_PATH_OPTIONS });
  // The crash ends every connection; an idle one's error must not fail the test.
  before.on('error', () => undefined);
  await migrate(before);

  const acknowledged: string[] = [];
  for (let i = 0; i < 30; i++) {
    const [task] = await insertTasks(before, [{ command: `one-${i}`, scheduledAt: new Date() }]);
    acknowledged.push(task.id);
  }
  const batch = await insertTasks(before, Array.from({ length: 200 }, (_, i) => ({ command: `batch-${i}`, scheduledAt: new Date() })));
  acknowledged.push(...batch.map((task) => task.id));
  const claimed = await claimDueTasks(before, Array.from({ length: 100 }, () => 1), { names: [], commandTasks: true, commandsWithoutPayload: false }, 60_000);
  expect(claimed).toHaveLength(100);
  const recorder = new StatusRecorder({ pool: before, logger: createLogger('test', 'silent'), backoff: { baseMs: 1000, maxMs: 1000 } });
  const finished = claimed.slice(0, 50);
  const answers = await recorder.recordAll(finished.map((task) => ({
    task_id: task.id, status: 'COMPLETE', attempt: task.attempt, worker_id: 1, at_ms: Date.now(),
    started_at: 0, completed_at: 0, failed_at: 0, error: '', result: 'ok', started_at_ms: 0, no_retry: false,
  })));
  expect(answers.every((answer) => answer.success)).toBe(true);

  await crash(dataDir);
  await before.end().catch(() => undefined);
  await stopPostgres(server);

  started = await startPostgres(dataDir, port, SETTINGS);
  server = started.child;
  const after = new pg.Pool({ connectionString: started.url, max: 2, options: SEARCH_PATH_OPTIONS });
  // Seen once in CI-like runs: an idle connection of this pool ended by the server (57P01) as the test finished.
  after.on('error', () => undefined);
  try {
    const { rows } = await after.query<{ status: string; count: number }>(
      `SELECT status, count(*)::int AS count FROM tasks WHERE id = ANY($1::uuid[]) GROUP BY status`, [acknowledged],
    );
    const byStatus = Object.fromEntries(rows.map((row) => [row.status, row.count]));
    expect(Object.values(byStatus).reduce((sum, count) => sum + count, 0)).toBe(acknowledged.length);
    // Acknowledged finishes stand. Other claims that reached the disk stand; the rest are gone and their
    // tasks pending.
    expect(byStatus.succeeded).toBe(finished.length);
    expect(Object.keys(byStatus).every((status) => ['pending', 'dispatched', 'succeeded'].includes(status))).toBe(true);
    expect(byStatus.dispatched ?? 0).toBeLessThanOrEqual(claimed.length - finished.length);
  } finally {
    await after.end();
  }
});
