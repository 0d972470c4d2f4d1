#!/usr/bin/env node
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { TaskMasterClient, type EnqueueOptions, type ListFilters, type Task } from './client';
import { TaskMasterApiError, TaskPayloadError } from './http/errors';
import { MAX_BATCH, NAME_PATTERN, type BulkRequest, type JsonValue, type QueueView } from './http/schemas';
import { MAX_LIMIT } from './task-fields';
import { addWorkerCommand, NoTasksError } from './worker-command';

/**
 * `taskmaster`: enqueue and inspect tasks from a shell, on the scheduler's HTTP API (the client in client.ts).
 * Exit codes: 0 done; 2 the input was refused (by the CLI, or by the server with a 400); 1 anything else.
 * `taskmaster worker` lives in worker-command.ts.
 */

/** Bytes of payload one batch request of `enqueue --count` carries at most (the server takes 4 MiB by default). */
const BATCH_BODY_BUDGET = 2 * 1024 * 1024;

/** Input the CLI refuses before any request: exit code 2. */
class UsageError extends Error {}

interface GlobalOptions {
  url: string;
  json?: boolean;
}

function positiveInt(max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^\d+$/.test(text) || value < 1 || value > max) throw new InvalidArgumentError(`must be a whole number from 1 to ${max}`);
    return value;
  };
}

function integer(min: number, max: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!/^-?\d+$/.test(text) || value < min || value > max) throw new InvalidArgumentError(`must be a whole number from ${min} to ${max}`);
    return value;
  };
}

/** A limit, or "none" to remove it (kept as the word: commander reads a parser's null as an empty string). */
function limitOrNone(text: string): number | 'none' {
  return text === 'none' ? 'none' : positiveInt(MAX_LIMIT)(text);
}

function seconds(text: string): number {
  const value = Number(text);
  if (text.trim() === '' || !Number.isFinite(value) || value < 0) throw new InvalidArgumentError('must be a number of seconds, 0 or more');
  return value;
}

function taskName(what: string) {
  return (text: string): string => {
    if (!NAME_PATTERN.test(text)) throw new InvalidArgumentError(`${what} must match ${NAME_PATTERN.source}`);
    return text;
  };
}

/** --payload JSON, or @file (@- for stdin) for payloads larger than a command line holds. */
function parsePayload(text: string | undefined): JsonValue | undefined {
  if (text === undefined) return undefined;
  let json = text;
  if (text.startsWith('@')) {
    try {
      json = readFileSync(text === '@-' ? 0 : text.slice(1), 'utf8');
    } catch (err) {
      throw new UsageError(`--payload ${text}: ${(err as Error).message}`);
    }
  }
  try {
    return JSON.parse(json) as JsonValue;
  } catch (err) {
    throw new UsageError(`--payload is not JSON: ${(err as Error).message}`);
  }
}

function client(options: GlobalOptions): TaskMasterClient {
  return new TaskMasterClient({ url: options.url, token: process.env.TASKMASTER_TOKEN || undefined });
}

function print(options: GlobalOptions, json: unknown, human: () => string): void {
  process.stdout.write(options.json ? `${JSON.stringify(json)}\n` : `${human()}\n`);
}

const label = (task: Task<unknown>) => task.name ?? task.command;

/** A one-line progress bar on stderr, redrawn in place; only on a terminal. */
function progressBar(total: number): { update(done: number): void; end(): void } {
  if (!process.stderr.isTTY || total <= MAX_BATCH) return { update() {}, end() {} };
  const width = 30;
  return {
    update(done) {
      const filled = Math.round((done / total) * width);
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${done}/${total}`);
    },
    end() {
      process.stderr.write('\n');
    },
  };
}

/** The flags of `enqueue`, as commander parses them. */
interface EnqueueFlags {
  payload?: string;
  at?: string;
  delay?: number;
  queue?: string;
  priority?: number;
  maxAttempts?: number;
  timeout?: number;
  idempotencyKey?: string;
  count?: number;
}

interface ListFlags {
  status?: string;
  name?: string;
  queue?: string;
  limit?: number;
}

async function enqueue(name: string, opts: EnqueueFlags, global: GlobalOptions): Promise<void> {
  const payload = parsePayload(opts.payload);
  const options: EnqueueOptions = { queue: opts.queue, priority: opts.priority, maxAttempts: opts.maxAttempts, timeoutSeconds: opts.timeout };
  if (opts.at !== undefined) options.runAt = opts.at;
  if (opts.delay !== undefined) options.delay = opts.delay * 1000;
  const api = client(global);
  if (opts.count === undefined) {
    const task = await api.enqueue(name, payload, { ...options, idempotencyKey: opts.idempotencyKey });
    print(global, task, () => `enqueued ${label(task)} ${task.id} (${task.status}, due ${task.scheduled_at})`);
    return;
  }
  if (opts.idempotencyKey !== undefined) throw new UsageError('--idempotency-key names one task; it cannot go with --count');
  // Batches of up to 1,000, each all-or-nothing; a failure stops the run and says how many were enqueued.
  // Large payloads make smaller batches, so a request stays well under the server's default body limit (4 MiB).
  const payloadBytes = Buffer.byteLength(JSON.stringify(payload ?? null));
  const batchSize = Math.max(1, Math.min(MAX_BATCH, Math.floor(BATCH_BODY_BUDGET / (payloadBytes + 64))));
  const count = opts.count;
  const bar = progressBar(count);
  const ids: string[] = [];
  try {
    while (ids.length < count) {
      const size = Math.min(batchSize, count - ids.length);
      const tasks = await api.enqueueMany(name, Array.from({ length: size }, () => payload ?? null), options);
      ids.push(...tasks.map((task) => task.id));
      bar.update(ids.length);
    }
  } catch (err) {
    if (ids.length > 0 && err instanceof Error) err.message += ` (after ${ids.length} of ${count} were enqueued)`;
    throw err;
  } finally {
    bar.end();
  }
  print(global, { count: ids.length, task_ids: ids }, () => `enqueued ${ids.length} × ${name}`);
}

async function listTasks(opts: ListFlags, global: GlobalOptions): Promise<void> {
  // The status names are checked by the server (a 400 naming `status`), which knows the aliases.
  const status = opts.status?.split(',') as ListFilters['status'];
  const page = await client(global).list({ status, name: opts.name, queue: opts.queue, limit: opts.limit });
  print(global, { tasks: page.tasks, next_cursor: page.nextCursor }, () => {
    const rows = page.tasks.map((task) => [task.id, label(task), task.queue, task.status, String(task.attempt), task.scheduled_at]);
    return table(['ID', 'NAME', 'QUEUE', 'STATUS', 'ATTEMPT', 'DUE'], rows);
  });
}

/** Columns padded to their widest cell, two spaces apart. */
function table(header: readonly string[], rows: readonly string[][]): string {
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  return [header, ...rows].map((row) => row.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd()).join('\n');
}

interface ScheduleFlags {
  cron: string;
  timezone?: string;
  payload?: string;
  queue?: string;
  key?: string;
  overlap?: 'skip' | 'allow';
  catchUp?: 'none' | 'last' | 'all';
  paused?: boolean;
}

async function createSchedule(name: string, opts: ScheduleFlags, global: GlobalOptions): Promise<void> {
  const schedule = await client(global).createSchedule({
    name, cron: opts.cron, timezone: opts.timezone, payload: parsePayload(opts.payload), queue: opts.queue, key: opts.key,
    overlap: opts.overlap, catch_up: opts.catchUp, paused: opts.paused,
  });
  print(global, schedule, () => `schedule ${schedule.id} (${schedule.name}, "${schedule.cron}" ${schedule.timezone}), next run ${schedule.next_run_at ?? 'never'}`);
}

async function listSchedules(global: GlobalOptions): Promise<void> {
  const schedules = await client(global).listSchedules();
  print(global, { schedules }, () => table(
    ['ID', 'NAME', 'CRON', 'TIMEZONE', 'STATE', 'NEXT RUN'],
    schedules.map((s) => [s.id, s.name, s.cron, s.timezone, s.paused ? 'paused' : 'active', s.next_run_at ?? '-']),
  ));
}

async function scheduleAction(action: 'pause' | 'resume' | 'delete', id: string, global: GlobalOptions): Promise<void> {
  const api = client(global);
  if (action === 'delete') {
    await api.deleteSchedule(id);
    print(global, { deleted: id }, () => `deleted schedule ${id}`);
    return;
  }
  const schedule = action === 'pause' ? await api.pauseSchedule(id) : await api.resumeSchedule(id);
  print(global, schedule, () => `${action === 'pause' ? 'paused' : 'resumed'} schedule ${id}${schedule.paused ? '' : `, next run ${schedule.next_run_at ?? 'never'}`}`);
}

/** A queue's controls in one line. */
function describeQueue(queue: QueueView): string {
  const limits = [
    queue.paused ? 'paused' : 'running',
    `max running ${queue.max_running ?? 'none'}`,
    `max per second ${queue.max_per_second ?? 'none'}`,
  ];
  return `queue ${queue.name}: ${limits.join(', ')}; ${queue.running} in flight, ${queue.pending} pending`;
}

async function listQueues(global: GlobalOptions): Promise<void> {
  const queues = await client(global).listQueues();
  print(global, { queues }, () => table(
    ['QUEUE', 'STATE', 'MAX RUNNING', 'MAX/S', 'RUNNING', 'PENDING'],
    queues.map((q) => [q.name, q.paused ? 'paused' : 'active', String(q.max_running ?? '-'), String(q.max_per_second ?? '-'), String(q.running), String(q.pending)]),
  ));
}

interface QueueFlags {
  maxRunning?: number | 'none';
  maxPerSecond?: number | 'none';
}

/** A limit flag as the API takes it: null removes the limit. */
const limitValue = (flag: number | 'none' | undefined) => (flag === 'none' ? null : flag);

async function queueAction(action: 'set' | 'pause' | 'resume' | 'reset', queue: string, opts: QueueFlags, global: GlobalOptions): Promise<void> {
  const api = client(global);
  if (action === 'reset') {
    await api.resetQueue(queue);
    print(global, { reset: queue }, () => `removed every control of queue ${queue}`);
    return;
  }
  const view = action === 'pause' ? await api.pauseQueue(queue)
    : action === 'resume' ? await api.resumeQueue(queue)
      : await api.setQueue(queue, { max_running: limitValue(opts.maxRunning), max_per_second: limitValue(opts.maxPerSecond) });
  print(global, view, () => describeQueue(view));
}

async function listLimits(global: GlobalOptions): Promise<void> {
  const limits = await client(global).listConcurrencyLimits();
  print(global, { limits }, () => table(
    ['NAME', 'KEY', 'MAX RUNNING', 'KEYS', 'AT LIMIT', 'RUNNING', 'SOURCE'],
    limits.map((l) => [l.name, l.key, String(l.max_running), String(l.keys), String(l.keys_at_limit), String(l.running), l.source]),
  ));
}

async function setLimit(name: string, opts: { key: string; maxRunning: number }, global: GlobalOptions): Promise<void> {
  const limit = await client(global).setConcurrencyLimit(name, { key: opts.key, max_running: opts.maxRunning });
  print(global, limit, () => `${name}: at most ${limit.max_running} in flight per ${limit.key} (${limit.keys} key(s) in use)`);
}

async function removeLimit(name: string, global: GlobalOptions): Promise<void> {
  await client(global).removeConcurrencyLimit(name);
  print(global, { removed: name }, () => `removed the concurrency limit of ${name}`);
}

async function getTask(id: string, global: GlobalOptions): Promise<void> {
  const task = await client(global).get(id);
  print(global, task, () => {
    const lines = [
      `id:        ${task.id}`,
      `name:      ${label(task)}${task.name === null ? ' (command task)' : ''}`,
      `queue:     ${task.queue}`,
      `status:    ${task.status} (attempt ${task.attempt} of ${task.max_attempts})`,
      `due:       ${task.scheduled_at}`,
    ];
    if (task.worker_id !== null) lines.push(`worker:    ${task.worker_id}`);
    if (task.timeout_seconds !== undefined) lines.push(`timeout:   ${task.timeout_seconds} s`);
    if (task.completed_at) lines.push(`completed: ${task.completed_at}`);
    if (task.cancelled_at) lines.push(`cancelled: ${task.cancelled_at}`);
    if (task.error !== undefined) lines.push(task.status === 'cancelled' ? `reason:    ${task.error}` : `error:     ${task.error}`);
    lines.push(`payload:   ${JSON.stringify(task.payload, null, 2)}`);
    if (task.result !== undefined) lines.push(`result:    ${JSON.stringify(task.result, null, 2)}`);
    return lines.join('\n');
  });
}

interface BulkFlags {
  status?: string;
  name?: string;
  queue?: string;
  createdAfter?: string;
  createdBefore?: string;
  error?: string;
  reason?: string;
}

async function bulkAction(action: 'cancel' | 'retry' | 'delete', opts: BulkFlags, global: GlobalOptions): Promise<void> {
  const filter: BulkRequest['filter'] = {
    status: opts.status?.split(',').map((s) => s.trim()) as NonNullable<BulkRequest['filter']>['status'],
    name: opts.name, queue: opts.queue, created_after: opts.createdAfter, created_before: opts.createdBefore, error: opts.error,
  };
  const api = client(global);
  const bar = progressBar(await api.bulkCount(action, filter));
  const done = await api.bulk(action, filter, { reason: opts.reason, onProgress: (n) => bar.update(n) });
  bar.end();
  const verb = { cancel: 'cancelled', retry: 'retried', delete: 'deleted' }[action];
  print(global, { action, affected: done }, () => `${verb} ${done} task(s)`);
}

async function cancelTask(id: string, opts: { reason?: string }, global: GlobalOptions): Promise<void> {
  const task = await client(global).cancel(id, { reason: opts.reason });
  print(global, task, () => `cancelled ${label(task)} ${task.id}`);
}

async function retryTask(id: string, global: GlobalOptions): Promise<void> {
  const task = await client(global).retry(id);
  print(global, task, () => `retrying ${label(task)} ${task.id} (${task.status}, due ${task.scheduled_at})`);
}

/**
 * Runs the repository's migrations (db/migrations) with its own runner. The SDK imports no service, so this
 * works from a TaskMaster checkout that is built (npm run build); elsewhere, run the chart's migrate job.
 */
function migrate(): void {
  const runner = resolve(__dirname, '..', '..', '..', 'dist', 'services', 'common', 'src', 'db', 'migrate-main.js');
  if (!existsSync(runner)) {
    throw new UsageError(`taskmaster migrate runs ${runner}, which is not there: run it from a built TaskMaster checkout (npm run build), or use \`npm run migrate\` or the Helm chart's migrate job`);
  }
  const result = spawnSync(process.execPath, [runner], { stdio: 'inherit' });
  process.exitCode = result.status ?? 1;
}

/** The program; exported so tests can run it in-process. */
export function buildProgram(): Command {
  const program = new Command('taskmaster')
    .description('Enqueue and inspect TaskMaster tasks')
    .addOption(new Option('--url <url>', 'the scheduler').env('TASKMASTER_URL').default('http://localhost:8081'))
    .option('--json', 'print JSON for scripts')
    .showHelpAfterError('(taskmaster --help for usage)')
    .exitOverride();
  program.addHelpText('after', '\nTASKMASTER_TOKEN, when set, is sent as "Authorization: Bearer <token>".');

  program.command('enqueue')
    .description('enqueue a named task')
    .argument('<name>', 'the task name', taskName('the task name'))
    .option('--payload <json>', 'the payload, as JSON, or @file (@- for stdin)')
    .addOption(new Option('--at <iso>', 'when it is due, such as 2030-01-27T12:30:00Z').conflicts('delay'))
    .addOption(new Option('--delay <seconds>', 'seconds from now until it is due').argParser(seconds))
    .option('--queue <queue>', 'the queue (default "default")', taskName('the queue'))
    .option('--priority <n>', 'higher runs first, -1000 to 1000', integer(-1000, 1000))
    .option('--max-attempts <n>', 'executions allowed, 1 to 100', positiveInt(100))
    .option('--timeout <seconds>', 'seconds an attempt may run before it is aborted and failed, 1 to 604800', positiveInt(604_800))
    .option('--idempotency-key <key>', 'a second enqueue with this key returns the first task')
    .option('--count <n>', 'enqueue this many copies, in batches of up to 1,000', positiveInt(10_000_000))
    .action((name: string, opts: EnqueueFlags, command: Command) => enqueue(name, opts, command.optsWithGlobals<GlobalOptions>()));

  const tasks = program.command('tasks').description('list and show tasks');
  tasks.command('ls')
    .description('list tasks, newest first')
    .option('--status <status>', 'pending, dispatched, running, active, succeeded, failed, cancelled (comma-separated)')
    .option('--name <name>', 'only this task name', taskName('the name'))
    .option('--queue <queue>', 'only this queue', taskName('the queue'))
    .option('--limit <n>', 'at most this many, 1 to 500 (default 50)', positiveInt(500))
    .action((opts: ListFlags, command: Command) => listTasks(opts, command.optsWithGlobals<GlobalOptions>()));
  tasks.command('get')
    .description('show one task, with its payload and result')
    .argument('<id>', 'the task id')
    .action((id: string, _opts: unknown, command: Command) => getTask(id, command.optsWithGlobals<GlobalOptions>()));
  tasks.command('cancel')
    .description('cancel a task that has not finished; a running one is stopped on its worker')
    .argument('<id>', 'the task id')
    .option('--reason <text>', 'why, shown in the task\'s timeline (at most 500 characters)')
    .action((id: string, opts: { reason?: string }, command: Command) => cancelTask(id, opts, command.optsWithGlobals<GlobalOptions>()));
  for (const action of ['cancel', 'retry', 'delete'] as const) {
    tasks.command(`bulk-${action}`)
      .description({ cancel: 'cancel every unfinished task the filter matches', retry: 'retry every failed or cancelled task the filter matches', delete: 'delete every finished task the filter matches, with its events' }[action])
      .option('--status <status>', 'pending, dispatched, running, succeeded, failed, cancelled (comma-separated)')
      .option('--name <name>', 'only this task name', taskName('the name'))
      .option('--queue <queue>', 'only this queue', taskName('the queue'))
      .option('--created-after <iso>', 'only tasks created at or after this time')
      .option('--created-before <iso>', 'only tasks created before this time')
      .option('--error <text>', 'only tasks whose last error contains this text')
      .option('--reason <text>', 'for cancel: why')
      .action((opts: BulkFlags, command: Command) => bulkAction(action, opts, command.optsWithGlobals<GlobalOptions>()));
  }
  tasks.command('retry')
    .description('run a failed or cancelled task again')
    .argument('<id>', 'the task id')
    .action((id: string, _opts: unknown, command: Command) => retryTask(id, command.optsWithGlobals<GlobalOptions>()));

  const schedules = program.command('schedules').description('recurring schedules: a task per cron occurrence');
  schedules.command('ls')
    .description('list every schedule')
    .action((_opts: unknown, command: Command) => listSchedules(command.optsWithGlobals<GlobalOptions>()));
  schedules.command('create')
    .description('create a schedule for a task name (with --key, create or update the one with that key)')
    .argument('<name>', 'the task name each occurrence creates', taskName('the name'))
    .requiredOption('--cron <pattern>', '5 fields (minute hour day month weekday) or 6 (seconds first)')
    .option('--timezone <zone>', 'IANA time zone the pattern is read in (default UTC)')
    .option('--payload <json>', 'the payload of each task, as JSON, or @file')
    .option('--queue <queue>', 'the queue of each task', taskName('the queue'))
    .option('--key <key>', 'names the schedule, so that creating it again updates it', taskName('the key'))
    .addOption(new Option('--overlap <mode>', 'skip: no new task while the last one has not finished').choices(['skip', 'allow']))
    .addOption(new Option('--catch-up <mode>', 'occurrences missed while no coordinator ran').choices(['none', 'last', 'all']))
    .option('--paused', 'create it paused')
    .action((name: string, opts: ScheduleFlags, command: Command) => createSchedule(name, opts, command.optsWithGlobals<GlobalOptions>()));
  for (const action of ['pause', 'resume', 'delete'] as const) {
    schedules.command(action === 'delete' ? 'rm' : action)
      .description(action === 'delete' ? 'delete a schedule (its tasks stay)' : `${action} a schedule`)
      .argument('<id>', 'the schedule id')
      .action((id: string, _opts: unknown, command: Command) => scheduleAction(action, id, command.optsWithGlobals<GlobalOptions>()));
  }

  const queues = program.command('queues').description('queue controls: pause, resume, limits (named queues)');
  queues.command('ls')
    .description('list the queues with controls')
    .action((_opts: unknown, command: Command) => listQueues(command.optsWithGlobals<GlobalOptions>()));
  queues.command('set')
    .description('set a queue\'s limits (the first control gates its backlog once)')
    .argument('<queue>', 'the queue', taskName('the queue'))
    .option('--max-running <n>', `most of its tasks in flight at once, 1 to ${MAX_LIMIT}, or "none"`, limitOrNone)
    .option('--max-per-second <n>', `most of its tasks started a second, 1 to ${MAX_LIMIT}, or "none"`, limitOrNone)
    .action((queue: string, opts: QueueFlags, command: Command) => queueAction('set', queue, opts, command.optsWithGlobals<GlobalOptions>()));
  for (const action of ['pause', 'resume', 'reset'] as const) {
    queues.command(action)
      .description({ pause: 'pause a queue: none of its tasks starts until it is resumed', resume: 'resume a paused queue', reset: 'remove every control of a queue' }[action])
      .argument('<queue>', 'the queue', taskName('the queue'))
      .action((queue: string, _opts: unknown, command: Command) => queueAction(action, queue, {}, command.optsWithGlobals<GlobalOptions>()));
  }

  const limits = program.command('limits').description('concurrency limits per key of a task type ("one at a time per customer")');
  limits.command('ls')
    .description('list the limits and their keys in use')
    .action((_opts: unknown, command: Command) => listLimits(command.optsWithGlobals<GlobalOptions>()));
  limits.command('set')
    .description('limit a task type\'s tasks in flight per key, a payload field')
    .argument('<name>', 'the task name', taskName('the name'))
    .requiredOption('--key <field>', 'the payload field holding the key, such as customer_id or customer.id')
    .requiredOption('--max-running <n>', `tasks of one key in flight at once, 1 to ${MAX_LIMIT}`, positiveInt(MAX_LIMIT))
    .action((name: string, opts: { key: string; maxRunning: number }, command: Command) => setLimit(name, opts, command.optsWithGlobals<GlobalOptions>()));
  limits.command('rm')
    .description('remove a task type\'s limit')
    .argument('<name>', 'the task name', taskName('the name'))
    .action((name: string, _opts: unknown, command: Command) => removeLimit(name, command.optsWithGlobals<GlobalOptions>()));

  program.command('migrate')
    .description('apply the database migrations (from a built TaskMaster checkout)')
    .action(() => migrate());
  addWorkerCommand(program);
  return program;
}

/** Parses argv and runs the command; returns the exit code. */
export async function main(argv: readonly string[] = process.argv): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  const fail = (code: number, message: string, error?: { code: string; field?: string }) => {
    process.stderr.write(json ? `${JSON.stringify({ error: { code: error?.code ?? 'invalid_argument', message, ...(error?.field ? { field: error.field } : {}) } })}\n` : `taskmaster: ${message}\n`);
    return code;
  };
  try {
    await program.parseAsync(argv as string[]);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      // Help and version "errors" are how commander says it printed them.
      if (err.code === 'commander.helpDisplayed' || err.code === 'commander.help' || err.code === 'commander.version') return 0;
      return 2;
    }
    if (err instanceof UsageError || err instanceof TaskPayloadError || err instanceof NoTasksError) return fail(2, err.message);
    if (err instanceof TaskMasterApiError) return fail(err.status === 400 ? 2 : 1, err.message, err);
    return fail(1, (err as Error).message ?? String(err), { code: 'error' });
  }
}

if (require.main === module) {
  void main().then((code) => {
    process.exitCode = code;
  });
}
