import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { TaskMasterClient } from '@taskmaster/sdk';
import { repoRoot } from '../../services/common/src/paths';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * A user's project (test/fixtures/sdk-project) on real processes: coordinator and scheduler as compiled
 * services, the project's worker as its own node process importing only `@taskmaster/sdk` (the built package,
 * through node_modules). Enqueued through the client, the HTTP API, the CLI and SQL.
 */

jest.setTimeout(120_000);

const PROJECT = join(repoRoot(), 'test', 'fixtures', 'sdk-project');
const CLI = join(repoRoot(), 'services', 'sdk', 'dist', 'cli.js');

let db: TestDatabase;
let cluster: Cluster;
let client: TaskMasterClient;
const started: ChildProcess[] = [];

interface ProjectWorker {
  child: ChildProcess;
  lines: Array<Record<string, unknown>>;
  id: number;
  exited: Promise<number | null>;
}

/** Starts the project's worker.js for the given task names and waits until it is connected. */
async function projectWorker(names: string[], env: Record<string, string> = {}): Promise<ProjectWorker> {
  const child = spawn(process.execPath, [join(PROJECT, 'worker.js'), ...names], {
    cwd: PROJECT,
    env: { PATH: process.env.PATH, COORDINATOR_ADDRESS: cluster.coordinatorAddress, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.push(child);
  const lines: Array<Record<string, unknown>> = [];
  const onLine = (text: string) => {
    try {
      lines.push(JSON.parse(text) as Record<string, unknown>);
    } catch {
      lines.push({ raw: text });
    }
  };
  createInterface({ input: child.stdout! }).on('line', onLine);
  createInterface({ input: child.stderr! }).on('line', onLine);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await waitFor(() => lines.some((l) => l.msg === 'connected'), 20_000, () => `worker.js to connect: ${JSON.stringify(lines)}`);
  return { child, lines, id: lines.find((l) => l.msg === 'connected')!.worker_id as number, exited };
}

async function stats(): Promise<{ pending: number; unhandled: Array<{ name: string }> }> {
  return (await fetch(`${cluster.schedulerUrl}/api/stats`)).json() as never;
}

/** The inodes of the TCP sockets in LISTEN state that process `pid` holds (from /proc: no tool needed). */
function listeningSockets(pid: number): string[] {
  const inodes = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const match = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (match) inodes.add(match[1]);
    } catch {
      // The descriptor closed while we looked.
    }
  }
  const listening: string[] = [];
  for (const table of ['tcp', 'tcp6']) {
    for (const row of readFileSync(`/proc/${pid}/net/${table}`, 'utf8').trim().split('\n').slice(1)) {
      const cols = row.trim().split(/\s+/);
      // cols[3] is the state (0A is LISTEN), cols[9] the socket's inode.
      if (cols[3] === '0A' && inodes.has(cols[9])) listening.push(cols[9]);
    }
  }
  return listening;
}

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

let resizer: ProjectWorker;

describe('a worker for resize-image only', () => {
  beforeAll(async () => {
    resizer = await projectWorker(['resize-image'], { WORKER_NAME: 'project-resizer' });
  });

  test('the project enqueues with the client and reads the typed result', async () => {
    const run = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
      execFile(process.execPath, [join(PROJECT, 'enqueue.js'), '48'], { cwd: PROJECT, env: { PATH: process.env.PATH, TASKMASTER_URL: cluster.schedulerUrl } },
        (error, stdout, stderr) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout, stderr }));
    });
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout)).toMatchObject({ status: 'succeeded', result: { width: 48 } });
  });

  test('through the HTTP API', async () => {
    const response = await fetch(`${cluster.schedulerUrl}/api/tasks`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'resize-image', payload: { url: 'https://example.com/dog.png', width: 32 } }),
    });
    expect(response.status).toBe(201);
    const { task_id } = (await response.json()) as { task_id: string };
    const done = await client.wait<{ width: number }>(task_id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'succeeded', result: { width: 32 }, worker_id: resizer.id });
  });

  test('through the CLI', async () => {
    const run = await new Promise<{ code: number; stdout: string }>((resolve) => {
      execFile(process.execPath, [CLI, '--json', 'enqueue', 'resize-image', '--payload', '{"url":"https://example.com/owl.png","width":16}'],
        { env: { PATH: process.env.PATH, TASKMASTER_URL: cluster.schedulerUrl } },
        (error, stdout) => resolve({ code: error ? Number(error.code ?? 1) : 0, stdout }));
    });
    expect(run.code).toBe(0);
    const done = await client.wait(JSON.parse(run.stdout).task_id as string, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'succeeded', result: { width: 16 } });
  });

  test('the worker checks the schema too: a payload the API accepted fails its attempt', async () => {
    const task = await client.enqueue('resize-image', { url: '', width: -1 }, { maxAttempts: 1 });
    const done = await client.wait(task.id, { timeoutMs: 30_000 });
    expect(done.status).toBe('failed');
    expect(done.error).toMatch(/payload/i);
  });

  test('SQL: committed, the task runs; rolled back, it never exists', async () => {
    const connection = await db.pool.connect();
    try {
      await connection.query('BEGIN');
      const { rows: [committed] } = await connection.query(`SELECT taskmaster.enqueue('resize-image', '{"url":"x","width":64}') AS id`);
      await connection.query('COMMIT');
      await connection.query('BEGIN');
      const { rows: [rolledBack] } = await connection.query(`SELECT taskmaster.enqueue('resize-image', '{"url":"y","width":65}') AS id`);
      await connection.query('ROLLBACK');
      expect(await client.wait(String(committed.id), { timeoutMs: 30_000 })).toMatchObject({ status: 'succeeded', result: { width: 64 } });
      const missing = await client.get(String(rolledBack.id)).catch((err: { status?: number }) => err);
      expect(missing).toMatchObject({ status: 404 });
      const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM tasks WHERE payload->>'url' = 'y'");
      expect(rows[0].n).toBe(0);
    } finally {
      connection.release();
    }
  });

  test('an SDK worker opens no listening port (the coordinator, checked the same way, does)', () => {
    expect(listeningSockets(resizer.child.pid!)).toEqual([]);
    expect(listeningSockets(cluster.coordinator.pid!).length).toBeGreaterThan(0);
  });
});

describe('a name no worker handles', () => {
  test('send-email stays pending and is listed as unhandled; it runs once a worker for it joins', async () => {
    const task = await client.enqueue('send-email', { to: 'a@example.com' });
    // Several heartbeats and dispatch rounds pass with only the resize-image worker alive.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    expect((await client.get(task.id)).status).toBe('pending');
    expect((await stats()).unhandled.map((entry) => entry.name)).toContain('send-email');

    const mailer = await projectWorker(['send-email'], { WORKER_NAME: 'project-mailer', DRAIN_TIMEOUT_MS: '300' });
    const done = await client.wait<{ sent: boolean; to: string }>(task.id, { timeoutMs: 30_000 });
    expect(done).toMatchObject({ status: 'succeeded', result: { sent: true, to: 'a@example.com' }, worker_id: mailer.id });
    expect((await stats()).unhandled).toEqual([]);

    // Drain: an attempt that outlives the drain timeout sees ctx.signal abort and is handed back, not reported.
    const held = await client.enqueue('send-email', { to: 'b@example.com', holdMs: 60_000 });
    await waitFor(async () => (await client.get(held.id)).status === 'running', 20_000, 'the held task to run');
    mailer.child.kill('SIGTERM');
    expect(await mailer.exited).toBe(0);
    expect(mailer.lines).toContainEqual(expect.objectContaining({ msg: 'send-email: signal aborted', task_id: held.id }));
    const after = await client.get(held.id);
    expect(after.status).not.toBe('succeeded');
    expect(after.result).toBeUndefined();
    // Back to pending once the coordinator takes it back; no worker for send-email is left, so it stays there.
    await waitFor(async () => (await client.get(held.id)).status === 'pending', 20_000, 'the held task to be pending again');
    expect(resizer.lines.filter((l) => l.task_id === held.id || l.task_id === task.id)).toEqual([]);
  });
});
