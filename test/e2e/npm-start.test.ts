import { spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { repoRoot } from '../../services/common/src/paths';
import { freePort } from '../helpers/ports';
import { request } from '../helpers/scheduler-app';
import { waitFor } from '../helpers/wait';

/** Pids of live processes whose environment contains `marker` (every process npm start runs inherits it). */
function processesWith(marker: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/environ`, 'utf8').includes(marker)) pids.push(Number(entry));
    } catch {
      // exited meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Runs what `npm start` runs (after its build step) and waits until it says it is running. */
async function startTaskMaster(env: Record<string, string>) {
  const child = spawn(process.execPath, [join(repoRoot(), 'dist/services/local/src/main.js')], {
    env: { PATH: process.env.PATH ?? '', LOG_FORMAT: 'json', TASK_PROCESS_TIME: '100ms', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  createInterface({ input: child.stdout! }).on('line', (line) => lines.push(line));
  createInterface({ input: child.stderr! }).on('line', (line) => lines.push(line));
  let code: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (c) => resolve((code = c))));
  await waitFor(() => {
    if (code !== undefined) throw new Error(`npm start exited with ${code}:\n${lines.join('\n')}`);
    return lines.some((line) => line.includes('TaskMaster is running'));
  }, 90_000, () => `npm start to be ready:\n${lines.slice(-20).join('\n')}`);
  return { child, lines, exited };
}

test('npm start runs embedded PostgreSQL, the services and 3 workers; Ctrl-C stops all of it; a second run keeps the data', async () => {
  const home = mkdtempSync(join(tmpdir(), 'taskmaster-home-'));
  // As root, PostgreSQL runs as the "postgres" user, which must be able to enter the data's parent folder.
  chmodSync(home, 0o755);
  const marker = `taskmaster-start-test-${process.pid}-${Date.now()}`;
  const schedulerPort = await freePort();
  const env = {
    TASKMASTER_HOME: home,
    TASKMASTER_TEST_MARKER: marker,
    SCHEDULER_PORT: String(schedulerPort),
    COORDINATOR_PORT: String(await freePort()),
    EMBEDDED_POSTGRES_PORT: String(await freePort()),
  };
  const url = `http://127.0.0.1:${schedulerPort}`;
  try {
    const first = await startTaskMaster(env);
    expect(first.lines.join('\n')).toContain(`open http://localhost:${schedulerPort}`);
    await waitFor(async () => (await request(`${url}/api/stats`)).body.workers === 3, 30_000, '3 workers registered');
    const batch = await request(`${url}/api/schedule/batch`, { body: { count: 10 } });
    await waitFor(async () => (await request(`${url}/api/stats`)).body.completed === 10, 30_000, '10 tasks completed');
    // coordinator, scheduler, 3 workers, the supervisor and its parent, and PostgreSQL's processes.
    expect(processesWith(marker).length).toBeGreaterThanOrEqual(7);

    first.child.kill('SIGINT');
    expect(await first.exited).toBe(0);
    await waitFor(() => processesWith(marker).length === 0, 10_000, 'every process to stop');
    const output = first.lines.join('\n');
    expect(output).toContain('worker left');
    expect(output).not.toMatch(/terminating connection due to administrator command/);

    const second = await startTaskMaster(env);
    const status = await request(`${url}/api/status?task_id=${batch.body.task_ids[0]}`);
    expect(status.body.status).toBe('succeeded');
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);
    await waitFor(() => processesWith(marker).length === 0, 10_000, 'every process to stop');
  } finally {
    for (const pid of processesWith(marker)) process.kill(pid, 'SIGKILL');
    rmSync(home, { recursive: true, force: true });
  }
}, 180_000);
