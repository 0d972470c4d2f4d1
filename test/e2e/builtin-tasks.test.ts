import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { request } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/*
 * The shipped worker's built-in `http` and `shell` task types, end to end on real processes: enqueued over
 * the API, run by the worker, their results (or errors) stored, a failure retried by the task's policy.
 */

let db: TestDatabase;
let cluster: Cluster;
let server: Server;
let target = '';
let calls = 0;

beforeAll(async () => {
  server = createServer((req, res) => {
    calls++;
    if (req.url === '/flaky' && calls === 1) {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('try again');
      return;
    }
    if (req.url === '/slow') {
      setTimeout(() => res.writeHead(200).end('late'), 5000);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ path: req.url }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  target = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  db = await createTestDatabase();
  cluster = await startCluster({
    databaseEnv: db.env, workers: 1, scheduler: true,
    workerEnv: { SHELL_ALLOWLIST: 'echo', HTTP_ALLOW_HOSTS: '127.0.0.1' },
  });
});
afterAll(async () => {
  await cluster?.stop();
  await db?.drop();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});

async function runToEnd(body: Record<string, unknown>) {
  const created = await request(`${cluster.schedulerUrl}/api/tasks`, { body });
  expect(created.status).toBe(201);
  const id = created.body.task_id ?? created.body.id;
  let task: Record<string, unknown> = {};
  await waitFor(async () => {
    task = (await request(`${cluster.schedulerUrl}/api/tasks/${id}`)).body;
    return task.status === 'succeeded' || task.status === 'failed';
  }, 30_000, () => `task ${id} to finish (${JSON.stringify(task)})`);
  return task;
}

test('http: a 500 fails the attempt and the retry succeeds, with the response as the result', async () => {
  const task = await runToEnd({ name: 'http', payload: { url: `${target}/flaky` }, max_attempts: 3 });
  expect(task).toMatchObject({ status: 'succeeded', executions: 2 });
  expect(task.result).toMatchObject({ status: 200, body: { path: '/flaky' } });
});

test('http: a timeout fails the attempt with a clear error; a host outside the allowlist too', async () => {
  const slow = await runToEnd({ name: 'http', payload: { url: `${target}/slow`, timeout_ms: 300 }, max_attempts: 1 });
  expect(slow).toMatchObject({ status: 'failed' });
  expect(String(slow.last_error)).toMatch(/timed out/);
  const elsewhere = await runToEnd({ name: 'http', payload: { url: 'http://localhost.invalid/' }, max_attempts: 1 });
  expect(String(elsewhere.last_error)).toMatch(/localhost\.invalid/);
});

test('shell: an allowed executable runs without a shell; one outside the allowlist fails', async () => {
  const echoed = await runToEnd({ name: 'shell', payload: { argv: ['echo', 'hello $HOME'] }, max_attempts: 1 });
  expect(echoed).toMatchObject({ status: 'succeeded', result: { exit_code: 0, stdout: 'hello $HOME\n' } });
  const refused = await runToEnd({ name: 'shell', payload: { argv: ['ls', '/'] }, max_attempts: 1 });
  expect(refused).toMatchObject({ status: 'failed' });
  expect(String(refused.last_error)).toMatch(/ls/);
});
