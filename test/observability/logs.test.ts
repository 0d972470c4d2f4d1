import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { startCluster, startService, type Cluster, type LogLine, type ServiceProcess } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * Logs are JSON lines with the fields an operator searches by, at the level LOG_LEVEL asks for, and never
 * carry a secret: a distinctive database password and API token are used for real (the services connect
 * and authenticate with them) and misconfigured (to force the error paths), and no line of any process,
 * at debug level, contains either.
 */

jest.setTimeout(180_000);

const password = `Pw-${randomBytes(12).toString('hex')}-secret`;
const token = `tok-${randomBytes(12).toString('hex')}-secret`;
const role = `tm_logs_${randomBytes(4).toString('hex')}`;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

let db: TestDatabase;
let cluster: Cluster;
let databaseEnv: Record<string, string>;
const others: ServiceProcess[] = [];

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: process.env.TASKMASTER_TEST_ADMIN_URL });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

async function request(path: string, init: RequestInit & { auth?: string } = {}): Promise<Response> {
  const headers: Record<string, string> = { 'Content-Type': 'application/json' };
  if (init.auth) headers.Authorization = `Bearer ${init.auth}`;
  return fetch(`${cluster.schedulerUrl}${path}`, { ...init, headers });
}

function allProcesses(): ServiceProcess[] {
  return [cluster.coordinator, cluster.scheduler!, ...cluster.workers, ...others];
}

beforeAll(async () => {
  db = await createTestDatabase();
  await admin((client) => client.query(`CREATE ROLE ${role} LOGIN SUPERUSER PASSWORD '${password}'`));
  // The POSTGRES_* variables, not DATABASE_URL: the password travels as its own variable, as in the chart.
  databaseEnv = {
    POSTGRES_HOST: db.config.host,
    POSTGRES_PORT: String(db.config.port),
    POSTGRES_DB: db.name,
    POSTGRES_USER: role,
    POSTGRES_PASSWORD: password,
  };
  cluster = await startCluster({ databaseEnv, workers: 1, scheduler: true, env: { API_TOKEN: token } });
});

afterAll(async () => {
  await Promise.all(others.map((p) => p.stop('SIGKILL')));
  await cluster?.stop();
  await db?.drop();
  await admin((client) => client.query(`DROP ROLE IF EXISTS ${role}`));
});

test('task events in the worker and coordinator logs carry task_id, attempt and worker_id', async () => {
  const ok = await request('/api/schedule/batch', { method: 'POST', auth: token, body: JSON.stringify({ command: 'noop', count: 3 }) });
  expect(ok.status).toBe(201);
  const failing = await request('/api/schedule/batch', {
    method: 'POST', auth: token, body: JSON.stringify({ command: 'fail on purpose', count: 1, max_attempts: 2 }),
  });
  expect(failing.status).toBe(201);
  const [worker] = cluster.workers;
  await waitFor(async () => {
    const { rows } = await db.pool.query<{ n: number }>(`SELECT count(*) AS n FROM tasks WHERE status IN ('succeeded', 'failed')`);
    return rows[0].n === 4;
  }, 60_000, 'all four tasks finished');
  await cluster.coordinator.waitForLog((l) => l.msg === 'task failed on its last attempt');

  const workerId = (await worker.waitForLog((l) => l.msg === 'worker started')).worker_id;
  const taskLines = (lines: LogLine[], messages: string[]) => lines.filter((l) => messages.includes(l.msg ?? ''));
  const workerTaskLines = taskLines(worker.logs, ['task started', 'task completed', 'task failed']);
  // 3 + 2 attempts: each started, then completed or failed.
  expect(workerTaskLines).toHaveLength(10);
  const coordinatorTaskLines = taskLines(cluster.coordinator.logs, ['task status recorded', 'task failed on its last attempt']);
  expect(coordinatorTaskLines.length).toBeGreaterThanOrEqual(5);
  for (const line of [...workerTaskLines, ...coordinatorTaskLines]) {
    expect(line).toEqual(expect.objectContaining({ task_id: expect.stringMatching(UUID), attempt: expect.any(Number), worker_id: workerId }));
    expect(line.attempt as number).toBeGreaterThanOrEqual(1);
  }
  expect(taskLines(worker.logs, ['task failed']).map((l) => l.attempt).sort()).toEqual([1, 2]);
});

test('every HTTP request is logged once with its request id, which the response echoes', async () => {
  const authorization = `Bearer ${token}`;
  const made = (await fetch(`${cluster.schedulerUrl}/api/stats`, { headers: { authorization } })).headers.get('x-request-id');
  expect(made).toMatch(UUID);
  const given = await fetch(`${cluster.schedulerUrl}/api/stats`, { headers: { 'X-Request-Id': 'trace-me-42', authorization } });
  expect(given.headers.get('x-request-id')).toBe('trace-me-42');
  const line = await cluster.scheduler!.waitForLog((l) => l.msg === 'request' && l.request_id === 'trace-me-42');
  expect(line).toEqual(expect.objectContaining({ method: 'GET', path: '/api/stats', status: 200, service: 'scheduler', caller: 'api-token' }));
  expect(cluster.scheduler!.logs.filter((l) => l.request_id === 'trace-me-42')).toEqual([line]);
  await cluster.scheduler!.waitForLog((l) => l.msg === 'request' && l.request_id === made);
});

test('LOG_LEVEL=warn leaves out info and debug lines', async () => {
  const quiet = startService('coordinator', {
    ...databaseEnv, POSTGRES_PASSWORD: `${password}-wrong`, LOG_LEVEL: 'warn', COORDINATOR_PORT: String(await freePort()),
  }, 'quiet-coordinator');
  others.push(quiet);
  await quiet.waitForLog((l) => l.msg === 'waiting for the database');
  expect(quiet.logs.filter((l) => l.level !== 'warn' && l.level !== 'error')).toEqual([]);
});

test('no log line of any service, working or misconfigured, contains the database password or the API token', async () => {
  // Working: authenticated and refused requests, with the token in a header and in a query string.
  await request('/api/schedule', { method: 'POST', auth: token, body: JSON.stringify({ command: 'noop', scheduled_at: new Date().toISOString() }) });
  await request('/api/schedule', { method: 'POST', auth: `${token}-wrong`, body: '{}' });
  await request(`/api/tasks?token=${token}`);
  await request('/api/schedule', { method: 'POST', auth: token, body: '{not json' });

  // Misconfigured: a wrong password, a database that is not there, an unparsable URL, a bad variable.
  const port = String(await freePort());
  const unreachable = `postgres://${role}:${password}@127.0.0.1:${await freePort()}/${db.name}`;
  const broken = [
    startService('coordinator', { ...databaseEnv, POSTGRES_PASSWORD: `${password}-wrong`, COORDINATOR_PORT: port }, 'wrong-password'),
    startService('scheduler', { DATABASE_URL: unreachable, API_TOKEN: token, SCHEDULER_PORT: String(await freePort()) }, 'no-database'),
    startService('scheduler', { DATABASE_URL: `postgres://${role}:${password}@127.0.0.1:99999/x`, API_TOKEN: token }, 'bad-url'),
    startService('scheduler', { ...databaseEnv, API_TOKEN: token, SCHEDULER_PORT: 'not-a-port', LOG_LEVEL: 'loud' }, 'bad-config'),
  ];
  others.push(...broken);
  await broken[0].waitForLog((l) => l.level === 'warn' && /password authentication failed/.test(String(l.err)));
  await broken[1].waitForLog((l) => l.msg === 'waiting for the database');
  await broken[2].waitForLog((l) => l.msg === 'waiting for the database');
  expect(await broken[3].exited).toBe(2);
  expect(broken[3].logs.map((l) => l.msg).join('\n')).toMatch(/SCHEDULER_PORT="not-a-port"/);

  const secrets = [password, token, encodeURIComponent(password), encodeURIComponent(token)];
  const leaks = allProcesses().flatMap((p) => p.logs
    .map((line) => JSON.stringify(line))
    .filter((text) => secrets.some((secret) => text.includes(secret)))
    .map((text) => `${p.name}: ${text}`));
  expect(leaks).toEqual([]);
  // Not vacuous: the services logged plenty, at debug level, about the very requests and connections.
  expect(cluster.scheduler!.logs.filter((l) => l.msg === 'request' || l.msg === 'request refused').length).toBeGreaterThan(5);
  expect(allProcesses().every((p) => p.logs.length > 0)).toBe(true);
});
