import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { startService, type ServiceProcess } from '../helpers/processes';
import { openSse } from '../helpers/sse';

/*
 * A real scheduler process restarted (SIGTERM, then a new process on the same port and database) while SSE
 * clients are connected and tasks keep being inserted. The clients reconnect as EventSource does, with
 * Last-Event-ID, and between them see every event once, in id order: nothing lost in the restart, nothing
 * repeated.
 */

jest.setTimeout(180_000);

let db: TestDatabase;
let scheduler: ServiceProcess | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  await scheduler?.stop();
  await db?.drop();
});

async function startScheduler(port: number, label: string): Promise<ServiceProcess> {
  const service = startService('scheduler', {
    ...db.env, SCHEDULER_PORT: String(port), SCALER: 'local', LOCAL_WORKERS: '0', SSE_KEEPALIVE: '1s', LOG_LEVEL: 'info',
    COORDINATOR_ADDRESS: '127.0.0.1:1',
  }, label);
  await service.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduler listening'));
  return service;
}

test('SSE clients resume across a scheduler restart with no gap and no duplicate while tasks keep coming', async () => {
  const port = await freePort();
  scheduler = await startScheduler(port, 'scheduler-1');
  const url = `http://127.0.0.1:${port}/api/logs/stream`;
  const { rows: [{ id: start }] } = await db.pool.query<{ id: number }>('SELECT coalesce(max(id), 0) AS id FROM events');
  const clients = await Promise.all([
    openSse(url, { 'Last-Event-ID': String(start) }, { reconnect: true, retryMs: 200 }),
    openSse(url, { 'Last-Event-ID': String(start) }, { reconnect: true, retryMs: 200 }),
  ]);

  // Tasks inserted straight into the database, so they keep coming while no scheduler runs.
  let inserting = true;
  let batches = 0;
  const inserter = (async () => {
    while (inserting) {
      await db.pool.query(`INSERT INTO tasks (command, scheduled_at) SELECT 'restart ' || g, now() + interval '1 hour' FROM generate_series(1, 10) g`);
      batches++;
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  })();
  try {
    await Promise.all(clients.map((c) => c.until((conn) => conn.events.length >= 50, 15_000)));
    const beforeRestart = clients.map((c) => c.events.length);
    const stopped = Date.now();
    await scheduler.stop('SIGTERM');
    const downMs = Date.now() - stopped;
    await new Promise((resolve) => setTimeout(resolve, 500));
    scheduler = await startScheduler(port, 'scheduler-2');
    const restartMs = Date.now() - stopped;
    await Promise.all(clients.map((c) => c.until((conn) => conn.connections >= 2, 15_000)));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    inserting = false;
    await inserter;

    const { rows } = await db.pool.query<{ id: number }>('SELECT id FROM events WHERE id > $1 ORDER BY id', [start]);
    const expected = rows.map((row) => row.id);
    for (const client of clients) {
      await client.until((conn) => conn.events.length >= expected.length, 30_000);
    }
    console.log(`scheduler restart: stopped in ${downMs} ms, serving again after ${restartMs} ms; ${batches} batches of 10 tasks inserted; `
      + `${expected.length} events recorded; the clients had ${beforeRestart.join(' and ')} before the restart and `
      + `${clients.map((c) => `${c.events.length} over ${c.connections} connections`).join(' and ')} at the end`);
    for (const client of clients) expect(client.events.map((e) => e.data.id)).toEqual(expected);
  } finally {
    inserting = false;
    await inserter;
    for (const client of clients) client.close();
  }
});
