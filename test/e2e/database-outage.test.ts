import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { migrate } from '../../services/common/src/db/migrate';
import { freePort } from '../helpers/ports';
import { startPostgres, stopPostgres } from '../helpers/private-postgres';
import { startService, type ServiceProcess } from '../helpers/processes';
import { openSse, type SseConnection } from '../helpers/sse';

/*
 * PostgreSQL stopped for 10 s under a running scheduler (a server of its own: the suite's embedded server is
 * shared by every test file). During the outage the API answers 503 database_unavailable promptly, /healthz
 * stays 200 and /readyz says not ready, and the SSE client stays connected or reconnects. When the server is
 * back, everything resumes without restarting the scheduler: a schedule request succeeds and the SSE client
 * receives its event.
 */

jest.setTimeout(180_000);

const OUTAGE_MS = 10_000;

interface Timed {
  status: number;
  body: any;
  ms: number;
}

/** One request, timed; a hang fails it after 30 s rather than the test's timeout. */
async function timed(url: string, init: { method?: string; body?: unknown } = {}): Promise<Timed> {
  const started = Date.now();
  const response = await fetch(url, {
    method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
    headers: { 'content-type': 'application/json' },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, ms: Date.now() - started };
}

const inAnHour = () => new Date(Date.now() + 3_600_000).toISOString();

const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-outage-pg-'));
let server: ChildProcess | undefined;
let scheduler: ServiceProcess | undefined;
let stream: SseConnection | undefined;

afterAll(async () => {
  stream?.close();
  await scheduler?.stop();
  if (server) await stopPostgres(server);
  rmSync(dataDir, { recursive: true, force: true });
});

test('PostgreSQL down for 10 s: 503 database_unavailable at once, probes tell, and everything resumes without a restart', async () => {
  const pgPort = await freePort();
  let started = await startPostgres(dataDir, pgPort);
  server = started.child;
  const admin = new pg.Pool({ connectionString: started.url, max: 2 });
  await migrate(admin);
  await admin.end();

  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  scheduler = startService('scheduler', {
    DATABASE_URL: started.url, SCHEDULER_PORT: String(port), SCALER: 'local', LOCAL_WORKERS: '0', SSE_KEEPALIVE: '1s',
    COORDINATOR_ADDRESS: '127.0.0.1:1', LOG_LEVEL: 'info',
  }, 'scheduler');
  await scheduler.waitForLog((l) => typeof l.msg === 'string' && l.msg.startsWith('scheduler listening'));
  const schedulerPid = scheduler.pid;

  stream = await openSse(`${base}/api/logs/stream`, {}, { reconnect: true });
  const before = await timed(`${base}/api/schedule`, { body: { command: 'before the outage', scheduled_at: inAnHour() } });
  expect(before.status).toBe(201);
  await stream.until((c) => c.events.some((e) => e.data.task_id === before.body.task_id), 15_000);

  // The outage: every route, again and again, for as long as the server is down.
  await stopPostgres(server);
  const down = Date.now();
  const during: Record<string, Timed[]> = { schedule: [], tasks: [], status: [], logs: [], healthz: [], readyz: [] };
  while (Date.now() - down < OUTAGE_MS) {
    const [schedule, tasks, status, logs, healthz, readyz] = await Promise.all([
      timed(`${base}/api/schedule`, { body: { command: 'during the outage', scheduled_at: inAnHour() } }),
      timed(`${base}/api/tasks`),
      timed(`${base}/api/status?task_id=${before.body.task_id}`),
      timed(`${base}/api/logs`),
      timed(`${base}/healthz`),
      timed(`${base}/readyz`),
    ]);
    Object.entries({ schedule, tasks, status, logs, healthz, readyz }).forEach(([route, result]) => during[route].push(result));
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  const eventsBefore = stream.events.length;
  const connectionsDuring = stream.connections;
  started = await startPostgres(dataDir, pgPort);
  server = started.child;
  const outageMs = Date.now() - down;

  // Back: the first schedule request that succeeds, and its event on the same SSE client.
  const back = Date.now();
  let after: Timed | undefined;
  const attempts: Timed[] = [];
  while (!after && Date.now() - back < 30_000) {
    const result = await timed(`${base}/api/schedule`, { body: { command: 'after the outage', scheduled_at: inAnHour() } });
    attempts.push(result);
    if (result.status === 201) after = result;
    else await new Promise((resolve) => setTimeout(resolve, 200));
  }
  const scheduledAfterMs = Date.now() - back;
  expect(after?.status).toBe(201);
  await stream.until((c) => c.events.some((e) => e.data.task_id === after!.body.task_id), 30_000);
  const deliveredAfterMs = Date.now() - back;
  const ready = await timed(`${base}/readyz`);

  const figures = Object.entries(during).map(([route, results]) => {
    const statuses = [...new Set(results.map((r) => r.status))].join('/');
    return `${route}: ${results.length} requests, status ${statuses}, slowest ${Math.max(...results.map((r) => r.ms))} ms`;
  });
  console.log([
    `database outage of ${outageMs} ms (PostgreSQL stopped, then started again):`,
    ...figures.map((line) => `  ${line}`),
    `  a 503 body: ${JSON.stringify(during.schedule[0]?.body)}`,
    `  after restart: schedule succeeded after ${scheduledAfterMs} ms (${attempts.length} attempts: ${attempts.map((a) => a.status).join(',')}), its event reached the SSE client after ${deliveredAfterMs} ms`,
    `  SSE client: ${eventsBefore} events when PostgreSQL came back, ${stream.events.length} at the end, ${connectionsDuring} connection(s) by the end of the outage, ${stream.connections} at the end`,
  ].join('\n'));

  for (const route of ['schedule', 'tasks', 'status', 'logs']) {
    for (const result of during[route]) {
      expect(result.status).toBe(503);
      expect(result.body.error.code).toBe('database_unavailable');
      expect(result.body.error.message).toMatch(/database is unavailable/);
    }
  }
  // Nothing hangs: the pool's connection timeout (DB_CONNECT_TIMEOUT, 2 s) bounds every request.
  const slowest = Math.max(...Object.values(during).flat().map((r) => r.ms));
  expect(slowest).toBeLessThan(5000);
  expect(during.healthz.every((r) => r.status === 200)).toBe(true);
  expect(during.readyz.every((r) => r.status === 503)).toBe(true);
  expect(ready.status).toBe(200);
  // The same process throughout, and the stream's ids stayed in order without a duplicate.
  expect(scheduler.pid).toBe(schedulerPid);
  const ids = stream.events.map((e) => e.data.id);
  expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
});
