import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TaskMasterClient } from '@taskmaster/sdk';
import { repoRoot } from '../../services/common/src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { freePort } from '../helpers/ports';
import { startCluster, type Cluster } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * `taskmaster worker MODULE` (the built CLI) against a real coordinator and scheduler: it loads CommonJS and
 * ESM modules, runs their task definitions, drains on SIGTERM and SIGINT with exit 0, and refuses a module
 * that exports no task (exit 2).
 */

jest.setTimeout(120_000);

const CLI = join(repoRoot(), 'services', 'sdk', 'dist', 'cli.js');
const FIXTURES = join(repoRoot(), 'test', 'fixtures');

let db: TestDatabase;
let cluster: Cluster;
let client: TaskMasterClient;
const started: ChildProcess[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
  cluster = await startCluster({ databaseEnv: db.env, workers: 0, scheduler: true });
  client = new TaskMasterClient({ url: cluster.schedulerUrl });
});
afterAll(async () => {
  for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  await cluster?.stop();
  await db?.drop();
});

/** Starts `taskmaster worker ...args` and waits until the worker registered with the coordinator. */
async function cliWorker(args: string[], env: Record<string, string> = {}) {
  const child = spawn(process.execPath, [CLI, 'worker', ...args], { env: { PATH: process.env.PATH, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  started.push(child);
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => lines.some((line) => line.includes('registered with the coordinator')), 20_000, () => `the worker to register: ${lines.join('\n')}`);
  return { child, lines, exited };
}

async function workerNamed(name: string): Promise<{ handles: string[]; slots_total: number; worker_id: number } | undefined> {
  const body = (await (await fetch(`${cluster.schedulerUrl}/api/workers`)).json()) as { workers: Array<{ name: string; state: string; handles: string[]; slots_total: number; worker_id: number }> };
  return body.workers.find((worker) => worker.name === name && worker.state === 'alive');
}

test('a CommonJS module: its task definitions run, other exports are skipped; SIGTERM drains and exits 0', async () => {
  const worker = await cliWorker([join(FIXTURES, 'cli-worker', 'tasks.cjs'), '--coordinator', cluster.coordinatorAddress, '--name', 'cli-cjs', '--slots', '3']);
  await waitFor(async () => (await workerNamed('cli-cjs')) !== undefined, 20_000, 'cli-cjs in /api/workers');
  expect(await workerNamed('cli-cjs')).toMatchObject({ handles: ['greet'], slots_total: 3 });
  const task = await client.enqueue('greet', { who: 'world' });
  expect(await client.wait(task.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'succeeded', result: { greeting: 'hello world' } });
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
  expect(worker.lines.join('\n')).toContain('worker stopped');
  // A clean stop is not a lost connection: the worker ends its own stream once its leaving is answered.
  expect(worker.lines.filter((line) => /"level":\s*(40|50|60|"warn"|"error")/.test(line))).toEqual([]);
});

test('an ESM module, with the coordinator from COORDINATOR_ADDRESS; SIGINT drains and exits 0', async () => {
  const worker = await cliWorker([join(FIXTURES, 'sdk-project', 'tasks.js'), '--name', 'cli-esm'], { COORDINATOR_ADDRESS: cluster.coordinatorAddress });
  await waitFor(async () => (await workerNamed('cli-esm')) !== undefined, 20_000, 'cli-esm in /api/workers');
  expect((await workerNamed('cli-esm'))!.handles.sort()).toEqual(['resize-image', 'send-email']);
  const task = await client.enqueue('resize-image', { url: 'https://example.com/a.png', width: 10 });
  expect(await client.wait(task.id, { timeoutMs: 30_000 })).toMatchObject({ status: 'succeeded', result: { width: 10 } });
  worker.child.kill('SIGINT');
  expect(await worker.exited).toBe(0);
});

test('the Helm chart\'s worker environment: name, slots and drain timeout from it, /metrics and /healthz on METRICS_PORT', async () => {
  const metricsPort = await freePort();
  const worker = await cliWorker([join(FIXTURES, 'cli-worker', 'tasks.cjs')], {
    COORDINATOR_ADDRESS: cluster.coordinatorAddress, WORKER_NAME: 'cli-pod', WORKER_POOL_SIZE: '2', WORKER_DRAIN_TIMEOUT: '5s',
    METRICS_PORT: String(metricsPort), BIND_HOST: '127.0.0.1',
  });
  await waitFor(async () => (await workerNamed('cli-pod')) !== undefined, 20_000, 'cli-pod in /api/workers');
  expect(await workerNamed('cli-pod')).toMatchObject({ handles: ['greet'], slots_total: 2 });
  const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
  expect(health.status).toBe(200);
  const task = await client.enqueue('greet', { who: 'pod' });
  await client.wait(task.id, { timeoutMs: 30_000 });
  expect(await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text()).toContain('taskmaster_task_run_duration_seconds');
  worker.child.kill('SIGTERM');
  expect(await worker.exited).toBe(0);
});

test('a module that exports no task definition: a clear error, exit 2', async () => {
  const run = await new Promise<{ code: number; stderr: string }>((resolve) => {
    execFile(process.execPath, [CLI, 'worker', join(FIXTURES, 'cli-worker', 'no-tasks.cjs'), '--coordinator', cluster.coordinatorAddress], { env: { PATH: process.env.PATH } },
      (error, _stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stderr }));
  });
  expect(run.code).toBe(2);
  expect(run.stderr).toMatch(/no-tasks\.cjs exports no task definition/);
});
