import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../../services/common/src/paths';
import { TaskView } from '../../services/sdk/src/http/schemas';
import { countTasks, type TestDatabase } from '../helpers/database';
import { useSchedulerApp, type SchedulerUnderTest } from '../helpers/scheduler-app';

/**
 * The built `taskmaster` CLI (services/sdk/dist/cli.js, as npm links the bin) against a real scheduler:
 * its --json output, its human output, and its exit codes (0 done, 2 refused input, 1 other failures).
 */

let db: TestDatabase;
let app: SchedulerUnderTest;

useSchedulerApp({ apiToken: 'cli-secret' }, (running) => ({ db, app } = running));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CLI = join(repoRoot(), 'services', 'sdk', 'dist', 'cli.js');
const dir = mkdtempSync(join(tmpdir(), 'taskmaster-cli-'));
const bigPayloadFile = join(dir, 'payload.json');
writeFileSync(bigPayloadFile, JSON.stringify({ blob: 'x'.repeat(300 * 1024) }));

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the CLI asynchronously (the scheduler answers from this process), pointed at the test scheduler. */
function cli(args: string[], env: Record<string, string | undefined> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], {
      env: { PATH: process.env.PATH, TASKMASTER_URL: app.url, TASKMASTER_TOKEN: 'cli-secret', ...env },
      timeout: 60_000,
      maxBuffer: 64 * 1024 * 1024,
    }, (error, stdout, stderr) => {
      resolve({ code: error ? (typeof error.code === 'number' ? error.code : 1) : 0, stdout, stderr });
    });
  });
}

describe('taskmaster enqueue', () => {
  test('--json prints the task; tasks get prints it again, with its payload', async () => {
    const run = await cli(['--json', 'enqueue', 'send-email', '--payload', '{"to":"a@example.com"}', '--queue', 'mail', '--delay', '30', '--priority', '2']);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    const task = TaskView.parse(JSON.parse(run.stdout));
    expect(task).toMatchObject({ name: 'send-email', queue: 'mail', priority: 2, payload: { to: 'a@example.com' }, status: 'pending' });
    const got = await cli(['tasks', 'get', task.task_id, '--json']);
    expect(got.code).toBe(0);
    expect(JSON.parse(got.stdout)).toMatchObject({ task_id: task.task_id, payload: { to: 'a@example.com' } });
    const human = await cli(['tasks', 'get', task.task_id]);
    expect(human.code).toBe(0);
    expect(human.stdout).toContain(`id:        ${task.task_id}`);
    expect(human.stdout).toContain('"to": "a@example.com"');
  });

  test('--payload @file reads the payload from a file', async () => {
    const file = join(dir, 'ok.json');
    writeFileSync(file, JSON.stringify({ from: 'file', list: [1, 2] }));
    const run = await cli(['--json', 'enqueue', 'from-file', '--payload', `@${file}`]);
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).payload).toEqual({ from: 'file', list: [1, 2] });
  });

  test('--at sets the due time; --url wins over TASKMASTER_URL', async () => {
    const run = await cli(['--url', app.url, '--json', 'enqueue', 'report', '--at', '2031-05-01T10:00:00Z'], { TASKMASTER_URL: 'http://127.0.0.1:1' });
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout).scheduled_at).toBe('2031-05-01T10:00:00.000Z');
  });

  test('--count enqueues in batches of 1,000 and prints every id', async () => {
    const before = await countTasks(db);
    const run = await cli(['--json', 'enqueue', 'bulk', '--count', '2500', '--payload', '{"n":1}']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout);
    expect(out.count).toBe(2500);
    expect(new Set(out.task_ids).size).toBe(2500);
    expect(await countTasks(db)).toBe(before + 2500);
    const human = await cli(['enqueue', 'bulk', '--count', '3']);
    expect(human.stdout.trim()).toBe('enqueued 3 × bulk');
  });

  test('--count with a large payload makes smaller batches, each under the body limit', async () => {
    const file = join(dir, 'large.json');
    writeFileSync(file, JSON.stringify('y'.repeat(200 * 1024)));
    const run = await cli(['--json', 'enqueue', 'large', '--count', '30', '--payload', `@${file}`]);
    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(JSON.parse(run.stdout).count).toBe(30);
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM tasks WHERE name = 'large' AND length(payload #>> '{}') = $1", [200 * 1024]);
    expect(rows[0].n).toBe(30);
  });

  test.each([
    ['a payload that is not JSON', ['enqueue', 'a', '--payload', '{bad']],
    ['a name outside the pattern', ['enqueue', 'Bad-Name']],
    ['a queue outside the pattern', ['enqueue', 'a', '--queue', 'a b']],
    ['--at with --delay', ['enqueue', 'a', '--at', '2031-01-01T00:00:00Z', '--delay', '5']],
    ['a count of 0', ['enqueue', 'a', '--count', '0']],
    ['an unknown option', ['enqueue', 'a', '--colour', 'red']],
    ['a date the server refuses', ['enqueue', 'a', '--at', 'tomorrow']],
    ['a payload over the server limit', ['enqueue', 'a', '--payload', `@${bigPayloadFile}`]],
    ['a payload file that does not exist', ['enqueue', 'a', '--payload', '@/nonexistent/payload.json']],
  ])('refuses %s with exit code 2 and writes nothing', async (_name, args) => {
    const before = await countTasks(db);
    const run = await cli(args);
    expect(run.code).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).not.toBe('');
    expect(await countTasks(db)).toBe(before);
  });

  test('with --json a refused request prints the API error as JSON on stderr', async () => {
    const run = await cli(['--json', 'enqueue', 'a', '--at', 'tomorrow']);
    expect(run.code).toBe(2);
    expect(JSON.parse(run.stderr)).toEqual({ error: { code: 'invalid_argument', message: expect.any(String), field: 'scheduled_at' } });
  });

  test('API failures exit 1: no token, an unknown task, an unreachable scheduler', async () => {
    const unauthorized = await cli(['enqueue', 'a'], { TASKMASTER_TOKEN: undefined });
    expect(unauthorized.code).toBe(1);
    expect(unauthorized.stderr).toMatch(/Authorization: Bearer/);
    expect((await cli(['tasks', 'get', '00000000-0000-4000-8000-000000000000'])).code).toBe(1);
    const unreachable = await cli(['tasks', 'ls'], { TASKMASTER_URL: 'http://127.0.0.1:1' });
    expect(unreachable.code).toBe(1);
    expect(unreachable.stderr).toMatch(/cannot reach http:\/\/127\.0\.0\.1:1/);
  });
});

describe('taskmaster tasks cancel and retry', () => {
  test('--timeout is stored; cancel with a reason, retry it, and a second cancel of a finished task exits 1 with the API\'s message', async () => {
    const run = await cli(['--json', 'enqueue', 'cancel-me', '--delay', '3600', '--timeout', '90']);
    const task = TaskView.parse(JSON.parse(run.stdout));
    expect(task.timeout_seconds).toBe(90);
    const cancelled = await cli(['tasks', 'cancel', task.task_id, '--reason', 'not needed']);
    expect(cancelled).toMatchObject({ code: 0, stdout: `cancelled cancel-me ${task.task_id}\n` });
    const human = await cli(['tasks', 'get', task.task_id]);
    expect(human.stdout).toContain('reason:    not needed');
    expect(human.stdout).toContain('timeout:   90 s');
    const retried = await cli(['--json', 'tasks', 'retry', task.task_id]);
    expect(JSON.parse(retried.stdout)).toMatchObject({ status: 'pending' });
    await cli(['tasks', 'cancel', task.task_id]);
    const again = await cli(['tasks', 'cancel', task.task_id]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`task ${task.task_id} is cancelled; only pending, dispatched or running tasks can be cancelled`);
    expect((await cli(['enqueue', 'x', '--timeout', '0'])).code).toBe(2);
  });
});

describe('taskmaster tasks bulk-*', () => {
  test('bulk-cancel by name and queue prints how many it cancelled; an empty filter exits 2', async () => {
    await cli(['enqueue', 'bulk-cli', '--queue', 'bq', '--delay', '3600', '--count', '3']);
    const run = await cli(['tasks', 'bulk-cancel', '--name', 'bulk-cli', '--queue', 'bq', '--reason', 'cleanup']);
    expect(run).toMatchObject({ code: 0, stdout: 'cancelled 3 task(s)\n' });
    expect(JSON.parse((await cli(['--json', 'tasks', 'bulk-delete', '--name', 'bulk-cli', '--status', 'cancelled'])).stdout)).toEqual({ action: 'delete', affected: 3 });
    expect((await cli(['tasks', 'bulk-retry'])).code).toBe(2);
  });
});

describe('taskmaster schedules', () => {
  test('create, ls, pause, resume and rm; a bad pattern exits 2 naming the field', async () => {
    const made = await cli(['--json', 'schedules', 'create', 'cli-report', '--cron', '0 9 * * 1-5', '--timezone', 'Europe/Paris', '--payload', '{"a":1}', '--overlap', 'skip']);
    expect(made.code).toBe(0);
    const schedule = JSON.parse(made.stdout);
    expect(schedule).toMatchObject({ name: 'cli-report', timezone: 'Europe/Paris', payload: { a: 1 }, overlap: 'skip', paused: false });
    const listed = await cli(['schedules', 'ls']);
    expect(listed.stdout).toMatch(new RegExp(`^${schedule.id}\\s+cli-report\\s+0 9 \\* \\* 1-5\\s+Europe/Paris\\s+active`, 'm'));
    expect((await cli(['schedules', 'pause', schedule.id])).stdout).toBe(`paused schedule ${schedule.id}\n`);
    expect((await cli(['schedules', 'resume', schedule.id])).stdout).toMatch(/^resumed schedule .*, next run \d{4}-/);
    expect((await cli(['schedules', 'rm', schedule.id])).stdout).toBe(`deleted schedule ${schedule.id}\n`);
    const bad = await cli(['--json', 'schedules', 'create', 'x', '--cron', '* * *']);
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stderr).error).toMatchObject({ field: 'cron' });
  });
});

describe('taskmaster queues and limits', () => {
  test('queues set, pause, resume, ls and reset; limits set, ls and rm; bad values exit 2', async () => {
    expect((await cli(['queues', 'set', 'cli-reports', '--max-running', '3', '--max-per-second', '10'])).stdout)
      .toBe('queue cli-reports: running, max running 3, max per second 10; 0 in flight, 0 pending\n');
    expect((await cli(['queues', 'pause', 'cli-reports'])).stdout).toMatch(/^queue cli-reports: paused, max running 3/);
    const none = await cli(['queues', 'set', 'cli-reports', '--max-per-second', 'none']);
    expect(none.stderr).toBe('');
    expect(none.stdout).toMatch(/max running 3, max per second none/);
    expect((await cli(['queues', 'ls'])).stdout).toMatch(/^cli-reports\s+paused\s+3\s+-\s+0\s+0$/m);
    expect((await cli(['queues', 'resume', 'cli-reports'])).stdout).toMatch(/^queue cli-reports: running/);
    expect((await cli(['queues', 'reset', 'cli-reports'])).stdout).toBe('removed every control of queue cli-reports\n');
    const defaultQueue = await cli(['--json', 'queues', 'pause', 'default']);
    expect(defaultQueue.code).toBe(2);
    expect(JSON.parse(defaultQueue.stderr).error).toMatchObject({ field: 'name' });
    expect((await cli(['queues', 'set', 'cli-reports', '--max-running', '0'])).code).toBe(2);

    expect((await cli(['limits', 'set', 'cli-charge', '--key', 'customer.id', '--max-running', '1'])).stdout)
      .toBe('cli-charge: at most 1 in flight per customer.id (0 key(s) in use)\n');
    expect((await cli(['limits', 'ls'])).stdout).toMatch(/^cli-charge\s+customer\.id\s+1\s+0\s+0\s+0\s+api$/m);
    expect((await cli(['limits', 'rm', 'cli-charge'])).stdout).toBe('removed the concurrency limit of cli-charge\n');
    const badKey = await cli(['--json', 'limits', 'set', 'cli-charge', '--key', 'a b', '--max-running', '1']);
    expect(badKey.code).toBe(2);
    expect(JSON.parse(badKey.stderr).error).toMatchObject({ field: 'key' });
  });
});

describe('taskmaster tasks ls', () => {
  test('filters by name, queue and status, as JSON and as a table', async () => {
    await cli(['enqueue', 'ls-me', '--queue', 'q1']);
    await cli(['enqueue', 'ls-me', '--queue', 'q2']);
    await cli(['enqueue', 'ls-other', '--queue', 'q1']);
    const byName = await cli(['--json', 'tasks', 'ls', '--name', 'ls-me']);
    expect(byName.code).toBe(0);
    expect(JSON.parse(byName.stdout).tasks.map((task: { queue: string }) => task.queue).sort()).toEqual(['q1', 'q2']);
    const both = await cli(['--json', 'tasks', 'ls', '--name', 'ls-me', '--queue', 'q2', '--status', 'pending', '--limit', '5']);
    expect(JSON.parse(both.stdout).tasks).toHaveLength(1);
    const table = await cli(['tasks', 'ls', '--queue', 'q1']);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ID\s+NAME\s+QUEUE\s+STATUS\s+ATTEMPT\s+DUE$/);
    expect(lines.slice(1).map((line) => line.split(/\s+/)[1]).sort()).toEqual(['ls-me', 'ls-other']);
  });

  test('refuses a bad filter with exit code 2', async () => {
    expect((await cli(['tasks', 'ls', '--limit', '0'])).code).toBe(2);
    expect((await cli(['tasks', 'ls', '--status', 'sleeping'])).code).toBe(2);
  });
});

describe('taskmaster migrate', () => {
  test('runs the repository migrations against DATABASE_URL (already applied: nothing to do, exit 0)', async () => {
    const run = await cli(['migrate'], { DATABASE_URL: db.url, LOG_LEVEL: 'info' });
    expect(run.code).toBe(0);
    expect(run.stdout + run.stderr).toMatch(/database already up to date/);
  });
});
