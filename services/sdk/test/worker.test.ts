import { Server } from 'node:net';
import { z } from 'zod';
import { defineTask, startWorker, type Logger, type TaskContext, type Worker } from '../src/index';
import type { StartWorkerOptions } from '../src/worker/options';
import { FakeCoordinator, taskLabel, taskUuid, waitFor } from './fake-coordinator';

/** The ctx of every attempt the handlers below saw, by "<task label>#attempt" (taskUuid). */
const contexts = new Map<string, TaskContext>();
const key = (taskId: string, attempt: number) => `${taskId}#${attempt}`;

/** Runs until its ctx.signal fires, then throws (as a handler that honours the signal does). */
const wait = defineTask({
  name: 'wait',
  run: (_payload: unknown, ctx) => {
    contexts.set(key(taskLabel(ctx.taskId), ctx.attempt), ctx);
    return new Promise((_resolve, reject) => ctx.signal.addEventListener('abort', () => reject(new Error('aborted'))));
  },
});
const echo = defineTask({ name: 'echo', run: (payload: unknown) => payload });
const quick = defineTask({ name: 'quick', run: () => new Promise((resolve) => setTimeout(() => resolve('done'), 100)) });
const boom = defineTask({
  name: 'boom',
  run: () => {
    throw new Error('disk full');
  },
});
const bigint = defineTask({ name: 'bigint', run: () => ({ count: 10n }) });
const cyclic = defineTask({
  name: 'cyclic',
  run: () => {
    const node: Record<string, unknown> = {};
    node.self = node;
    return node;
  },
});
const nothing = defineTask({ name: 'nothing', run: () => undefined });
const resize = defineTask({
  name: 'resize',
  schema: z.object({ width: z.number() }),
  run: ({ width }) => ({ width: width * 2 }),
});
const allTasks = [wait, echo, quick, boom, bigint, cyclic, nothing, resize];

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let coordinator: FakeCoordinator;
let worker: Worker | undefined;

beforeEach(async () => {
  contexts.clear();
  coordinator = await FakeCoordinator.start();
});

afterEach(async () => {
  coordinator.releaseReports();
  await worker?.stop();
  worker = undefined;
  coordinator.stop();
});

async function start(options: Partial<StartWorkerOptions> = {}): Promise<Worker> {
  worker = await startWorker({ coordinator: coordinator.address, tasks: allTasks, slots: 3, heartbeatIntervalMs: 50, drainTimeoutMs: 200, logger: quiet, ...options });
  await waitFor(() => worker!.connected, 'the worker to connect');
  return worker;
}

const task = (label: string, name: string, fields: Record<string, unknown> = {}) => ({ task_id: taskUuid(label), attempt: 1, name, ...fields });
const finalReports = (label: string) => coordinator.reports.filter((r) => r.task_id === taskUuid(label) && r.status !== 'STARTED');
/** A heartbeat received after everything received so far. */
const nextHeartbeat = async () => {
  const seen = coordinator.heartbeats.length;
  return waitFor(() => coordinator.heartbeats[seen], 'the next heartbeat');
};

describe('defineTask', () => {
  test('a name or queue outside [a-z0-9][a-z0-9._:-]{0,127} is refused at definition time', () => {
    expect(() => defineTask({ name: 'Send-Email', run: () => 1 })).toThrow(/must match/);
    expect(() => defineTask({ name: 'x'.repeat(129), run: () => 1 })).toThrow(/must match/);
    expect(() => defineTask({ name: 'send-email', queue: 'a b', run: () => 1 })).toThrow(/queue/);
    expect(defineTask({ name: 'send-email:v2', queue: 'mail', run: () => 1 }).queue).toBe('mail');
  });

  test('a concurrency limit needs a payload field and a whole limit', () => {
    expect(() => defineTask({ name: 'charge', concurrency: { key: 'customer..id', limit: 1 }, run: () => 1 })).toThrow(/concurrency of task "charge"/);
    expect(() => defineTask({ name: 'charge', concurrency: { key: 'customer_id', limit: 0 }, run: () => 1 })).toThrow(/whole number from 1/);
    expect(() => defineTask({ name: 'charge', concurrency: { key: 'customer_id', limit: 1.5 }, run: () => 1 })).toThrow(/whole number from 1/);
    expect(defineTask({ name: 'charge', concurrency: { key: 'customer.id', limit: 2 }, run: () => 1 }).concurrency).toEqual({ key: 'customer.id', limit: 2 });
  });
});

describe('startWorker against a coordinator on the Connect stream', () => {
  test('the first message is a heartbeat that says what the worker handles and holds', async () => {
    await start({ name: 'laptop', workerId: 42 });
    const first = coordinator.streams[0].messages[0];
    expect(first.seq).toBe(1);
    expect(first.body).toBe('heartbeat');
    expect(first.heartbeat).toMatchObject({
      workerId: 42, name: 'laptop', address: '', slots_total: 3, slots_free: 3, draining: false, leaving: false,
      delayed_start: true, reports_held: true, held: [], command_tasks: false,
    });
    expect([...first.heartbeat!.handles].sort()).toEqual(allTasks.map((t) => t.name).sort());
  });

  test('tasks are accepted or refused by (task_id, attempt); a newer attempt replaces the held one', async () => {
    await start({ slots: 2 });
    const first = await coordinator.sendTasks([task('a', 'wait'), task('b', 'send-email'), task('c', '', { data: 'noop' })]);
    expect(first.map((r) => [taskLabel(r.task_id), r.success])).toEqual([['a', true], ['b', false], ['c', false]]);
    expect(first[1].message).toMatch(/does not handle "send-email"/);
    expect(first[2].message).toMatch(/no command tasks/);

    expect(await coordinator.sendTasks([task('a', 'wait')])).toEqual([expect.objectContaining({ success: true, message: 'already running' })]);

    // The database gave task a a second attempt: the first is stale, stopped, and never reported.
    const replaced = await coordinator.sendTasks([task('a', 'wait', { attempt: 2 })]);
    expect(replaced[0]).toMatchObject({ success: true, message: 'accepted' });
    const old = await waitFor(() => contexts.get(key('a', 1)), 'attempt 1 to run');
    await waitFor(() => old.signal.aborted, 'attempt 1 to be aborted');
    await waitFor(() => contexts.get(key('a', 2)), 'attempt 2 to run');
    expect(contexts.get(key('a', 2))!.signal.aborted).toBe(false);
    expect(await coordinator.sendTasks([task('a', 'wait')])).toEqual([expect.objectContaining({ success: false, message: expect.stringMatching(/newer attempt/) })]);

    const full = await coordinator.sendTasks([task('d', 'wait'), task('e', 'wait')]);
    expect(full.map((r) => r.message)).toEqual(['accepted', 'no free slot']);
    const beat = await nextHeartbeat();
    expect(beat.held.map((h) => key(taskLabel(h.task_id), h.attempt)).sort()).toEqual(['a#2', 'd#1']);
    expect(beat.slots_free).toBe(0);
    expect(finalReports('a')).toEqual([]);
  });

  test('a finished attempt stays in the held list until its report is acknowledged', async () => {
    await start();
    coordinator.holdReports = true;
    await coordinator.sendTasks([task('f', 'echo', { payload: '{"x":1}' })]);
    const [report] = await waitFor(() => finalReports('f').length > 0 && finalReports('f'), 'the COMPLETE report');
    // Finished before its STARTED went out: one report carrying the start time.
    expect(report).toMatchObject({ status: 'COMPLETE', attempt: 1, result: '{"x":1}' });
    expect(report.started_at_ms).toBeGreaterThan(0);
    expect(coordinator.reports.filter((r) => r.task_id === taskUuid('f') && r.status === 'STARTED')).toEqual([]);
    expect((await nextHeartbeat()).held).toEqual([{ task_id: taskUuid('f'), attempt: 1 }]);
    expect(worker!.busy).toBe(0);

    coordinator.releaseReports();
    await waitFor(() => coordinator.heartbeats.at(-1)!.held.length === 0, 'f to leave the held list');
  });

  test('a drop from the coordinator aborts ctx.signal and nothing more is reported', async () => {
    await start();
    await coordinator.sendTasks([task('g', 'wait')]);
    const ctx = await waitFor(() => contexts.get(key('g', 1)), 'g to run');
    coordinator.drops.push({ task_id: taskUuid('g'), attempt: 1 });
    await waitFor(() => ctx.signal.aborted, 'the signal to fire');
    await nextHeartbeat();
    const beat = await nextHeartbeat();
    expect(beat.held).toEqual([]);
    expect(beat.slots_free).toBe(3);
    expect(finalReports('g')).toEqual([]);
  });

  test('a broken stream: the worker reconnects, lists what it holds first, and sends unanswered reports again', async () => {
    await start();
    coordinator.holdReports = true;
    await coordinator.sendTasks([task('r', 'wait'), task('f', 'echo', { payload: '"hello"' })]);
    await waitFor(() => finalReports('f').length > 0, 'the COMPLETE of f');
    coordinator.breakStream();

    const second = await waitFor(() => coordinator.streams[1]?.messages[0], 'a second stream');
    expect(second.body).toBe('heartbeat');
    expect(second.heartbeat!.held.map((h) => key(taskLabel(h.task_id), h.attempt)).sort()).toEqual(['f#1', 'r#1']);
    expect(contexts.get(key('r', 1))!.signal.aborted).toBe(false);

    coordinator.releaseReports();
    const resent = await waitFor(() => coordinator.streams[1].messages.find((m) => m.reports?.updates.some((u) => u.task_id === taskUuid('f'))), 'f reported again');
    expect(resent.reports!.updates.find((u) => u.task_id === taskUuid('f'))).toMatchObject({ status: 'COMPLETE', result: '"hello"' });
    await waitFor(() => coordinator.heartbeats.at(-1)!.held.length === 1, 'f acknowledged');
    expect(coordinator.heartbeats.at(-1)!.held).toEqual([{ task_id: taskUuid('r'), attempt: 1 }]);
  });

  test('drain: refuses new work, lets a task finish within the grace, aborts the one that outlives it, then leaves', async () => {
    await start({ drainTimeoutMs: 400 });
    await coordinator.sendTasks([task('slow', 'wait'), task('q', 'quick')]);
    const ctx = await waitFor(() => contexts.get(key('slow', 1)), 'slow to run');
    const stopped = worker!.stop();
    await waitFor(() => coordinator.heartbeats.some((h) => h.draining), 'a draining heartbeat');
    expect(ctx.draining).toBe(true);
    expect(ctx.signal.aborted).toBe(false);
    expect(await coordinator.sendTasks([task('late', 'echo')])).toEqual([expect.objectContaining({ success: false, message: 'worker is draining' })]);

    await stopped;
    expect(ctx.signal.aborted).toBe(true);
    expect(finalReports('q')).toEqual([expect.objectContaining({ status: 'COMPLETE', result: '"done"' })]);
    expect(finalReports('slow')).toEqual([]);
    expect(coordinator.heartbeats.at(-1)).toMatchObject({ draining: true, leaving: true });
    await waitFor(() => coordinator.streams[0].ended, 'the stream to end');
  });

  test('failures: a throw, a result that is not JSON, a payload the schema refuses, a payload that is not JSON', async () => {
    await start({ slots: 10 });
    await coordinator.sendTasks([
      task('t1', 'boom'),
      task('t2', 'bigint'),
      task('t3', 'cyclic'),
      task('t4', 'resize', { payload: '{"width":"wide"}' }),
      task('t5', 'resize', { payload: '{"width":' }),
      task('t6', 'resize', { payload: '{"width":32}' }),
      task('t7', 'nothing'),
    ]);
    const outcome = async (taskId: string) => (await waitFor(() => finalReports(taskId)[0], `the report of ${taskId}`));
    expect(await outcome('t1')).toMatchObject({ status: 'FAILED', error: 'disk full' });
    expect(await outcome('t2')).toMatchObject({ status: 'FAILED', error: 'the task\'s result is not JSON: a bigint at key "count"' });
    expect((await outcome('t3')).error).toMatch(/^the task's result is not JSON: .*circular/i);
    expect((await outcome('t4')).error).toMatch(/^the payload does not match the schema of "resize": width: /);
    expect((await outcome('t5')).error).toMatch(/^the payload is not JSON/);
    expect(await outcome('t6')).toMatchObject({ status: 'COMPLETE', result: '{"width":64}' });
    expect(await outcome('t7')).toMatchObject({ status: 'COMPLETE', result: 'null' });
  });

  test('command tasks run through commandTask, and only when it is given', async () => {
    await start({ commandTask: (command, ctx) => `${command} ran as attempt ${ctx.attempt}` });
    expect(coordinator.heartbeats[0].command_tasks).toBe(true);
    await coordinator.sendTasks([task('cmd', '', { data: 'sleep 5', attempt: 3 })]);
    expect(await waitFor(() => finalReports('cmd')[0], 'the command task')).toMatchObject({ status: 'COMPLETE', result: '"sleep 5 ran as attempt 3"', worker_id: worker!.id });
  });

  test('a task sent before it is due starts when start_after_ms has passed', async () => {
    await start();
    const sentAt = Date.now();
    await coordinator.sendTasks([task('later', 'echo', { start_after_ms: 150, payload: '1' })]);
    expect((await nextHeartbeat()).held).toEqual([{ task_id: taskUuid('later'), attempt: 1 }]);
    const report = await waitFor(() => finalReports('later')[0], 'the held task to run');
    expect(report.started_at_ms).toBeGreaterThanOrEqual(sentAt + 149);
  });

  test('the worker opens no listening socket', async () => {
    const servers = () => (process as unknown as { _getActiveHandles(): unknown[] })._getActiveHandles().filter((handle) => handle instanceof Server);
    const before = servers();
    expect(before.length).toBeGreaterThan(0); // the fake coordinator's own server is seen, so the check can see one
    await start();
    await coordinator.sendTasks([task('n', 'nothing')]);
    await waitFor(() => finalReports('n')[0], 'the task to finish');
    expect(servers().filter((server) => !before.includes(server))).toEqual([]);
  });
});
