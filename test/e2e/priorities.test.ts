import { insertTasks } from '../../services/common/src/db/insert-tasks';
import { createLogger } from '../../services/common/src/logger';
import { defineTask } from '../../services/sdk/src/define-task';
import { startWorker, type Worker } from '../../services/sdk/src/worker/start-worker';
import { useTestCoordinator, type TestCoordinator } from '../helpers/coordinator';
import type { TestDatabase } from '../helpers/database';
import { waitFor } from '../helpers/wait';

/*
 * The claim's order with priorities (migration 0012): a task of priority p is claimed as though it had become
 * due p minutes earlier. A real coordinator and an in-process SDK worker with one slot, so the order the
 * handler sees is the order the claims made. The backlog is written before the worker joins, with due times
 * in the past standing in for time spent waiting, so the aging rule is shown without waiting minutes.
 */

let db: TestDatabase;
let running: TestCoordinator;
useTestCoordinator({}, (started) => {
  db = started.db;
  running = started;
});

const minutesAgo = (minutes: number) => new Date(Date.now() - minutes * 60_000);

test('higher priority first, first due first within a priority, aging bounds the wait, never early', async () => {
  const ran: string[] = [];
  const step = defineTask({ name: 'step', run: (payload: { label: string }) => void ran.push(payload.label) });
  const task = (label: string, priority: number, dueMinutesAgo: number) => ({
    command: label, name: 'step', payload: { label }, priority, scheduledAt: minutesAgo(dueMinutesAgo),
  });
  await insertTasks(db.pool, [
    task('plain-due-now', 0, 0),
    // A flood of priority 10, due over the last few seconds: first-due-first-out among them.
    ...[5, 4, 3, 2, 1].map((s) => task(`flood-${6 - s}`, 10, s / 60)),
    // Waited 11 minutes at priority 0: older than the flood's 10-minute head start, so it goes first.
    task('aged-plain', 0, 11),
    task('plain-due-1m', 0, 1),
    task('low-due-7m', -5, 7), // key: 2 minutes ago
    task('low-due-now', -5, 0), // key: in 5 minutes; still claimed at once, nothing else is waiting
    task('mid-due-30s', 3, 0.5), // key: 3.5 minutes ago
    // Never early, whatever its priority: due in an hour, its key is 15 hours ago.
    task('urgent-future', 1000, -60),
  ]);
  const worker: Worker = await startWorker({ coordinator: running.address, tasks: [step], slots: 1, heartbeatIntervalMs: 200, logger: createLogger('test', 'silent') });
  try {
    await waitFor(() => ran.length === 11, 20_000, () => `11 tasks run; ran ${ran.join(', ')}`);
    expect(ran).toEqual([
      'aged-plain', 'flood-1', 'flood-2', 'flood-3', 'flood-4', 'flood-5',
      'mid-due-30s', 'low-due-7m', 'plain-due-1m', 'plain-due-now', 'low-due-now',
    ]);
    const { rows } = await db.pool.query("SELECT status FROM tasks WHERE command = 'urgent-future'");
    expect(rows).toEqual([{ status: 'pending' }]);
  } finally {
    await worker.stop();
  }
});

test('a priority outside -1000..1000 cannot be stored by any way in', async () => {
  await expect(insertTasks(db.pool, [{ command: 'too-high', scheduledAt: new Date(), priority: 1001 }])).rejects.toThrow(/tasks_priority_range/);
});
