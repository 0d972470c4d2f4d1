import { insertTasks } from '../../services/common/src/db/insert-tasks';
import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/*
 * POST /api/tasks/:id/retry over HTTP: a retry gives the task its retry budget again (executions back to 0),
 * whatever its attempt counter says. It used to raise max_attempts past attempt, which broke the CHECK on
 * max_attempts (1..100) for a task that had been claimed 100 times: a 500.
 */

let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({}, (running) => ({ db, app } = running));

test('a task that used every attempt the CHECK allows is retried with its budget back, never a 500', async () => {
  const [task] = await insertTasks(db.pool, [{ command: 'worn-out', scheduledAt: new Date('2032-01-01T00:00:00Z'), maxAttempts: 100 }]);
  await db.pool.query(
    "UPDATE tasks SET status = 'failed', attempt = 250, executions = 100, failed_at = now(), last_error = 'boom' WHERE id = $1",
    [task.id],
  );
  const retried = await request(`${app.url}/api/tasks/${task.id}/retry`, { method: 'POST' });
  expect(retried.status).toBe(200);
  expect(retried.body).toMatchObject({ status: 'pending', attempt: 250, max_attempts: 100 });
  const { rows } = await db.pool.query('SELECT executions, max_attempts FROM tasks WHERE id = $1', [task.id]);
  expect(rows[0]).toEqual({ executions: 0, max_attempts: 100 });

  // Retrying again is refused as a conflict (it is pending now), still not a 500.
  const again = await request(`${app.url}/api/tasks/${task.id}/retry`, { method: 'POST' });
  expect(again.status).toBe(409);
});
