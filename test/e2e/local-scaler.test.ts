import type { TestDatabase } from '../helpers/database';
import { request, useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

// The scheduler's local backend (npm start): scale and kill start and stop real worker processes.
let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({}, (running) => ({ db, app } = running));

async function aliveWorkers(): Promise<string[]> {
  const response = await request(`${app.url}/api/workers`);
  return response.body.workers.filter((w: { state: string }) => w.state === 'alive').map((w: { name: string }) => w.name);
}

test('scale starts worker processes that register; kill stops one and a replacement takes its place', async () => {
  const scaled = await request(`${app.url}/api/workers/scale`, { body: { count: 2 } });
  expect(scaled.body).toEqual({ scaler: 'local', pool: 'default', requested: 2, previous: 0 });
  await waitFor(async () => (await aliveWorkers()).length === 2, 20_000, '2 workers alive');
  expect(await aliveWorkers()).toEqual(['worker-1', 'worker-2']);

  const killed = await request(`${app.url}/api/workers/kill`, { body: { name: 'worker-1' } });
  expect(killed.body).toEqual({ scaler: 'local', killed: 'worker-1' });
  await waitFor(async () => {
    const names = await aliveWorkers();
    return !names.includes('worker-1') && names.length === 2;
  }, 20_000, 'worker-1 replaced');
  expect(await aliveWorkers()).toEqual(['worker-2', 'worker-3']);

  await request(`${app.url}/api/workers/scale`, { body: { count: 1 } });
  await waitFor(async () => (await aliveWorkers()).length === 1, 20_000, 'scaled down to 1');

  const { rows } = await db.pool.query("SELECT type, message FROM events WHERE type IN ('scale', 'kill') ORDER BY id");
  expect(rows.map((r) => r.type)).toEqual(['scale', 'kill', 'scale']);
  expect(rows[1].message).toContain('worker-1');
});
