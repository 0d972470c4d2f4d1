import type { Logger } from '../src/logger';
import { Connection } from '../src/worker/connection';
import { createCoordinatorClient } from '../src/worker/proto';
import { Reporter, type StatusUpdate } from '../src/worker/reporter';
import { FakeCoordinator, waitFor } from './fake-coordinator';

const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };
let coordinator: FakeCoordinator;
let connection: Connection;
let reporter: Reporter;
const acknowledged: StatusUpdate[] = [];

/** A Reporter sending over a real Connect stream to the fake coordinator. */
beforeEach(async () => {
  acknowledged.length = 0;
  coordinator = await FakeCoordinator.start();
  connection = new Connection(
    createCoordinatorClient(coordinator.address),
    { heartbeat: () => ({ workerId: 7, reports_held: true }), onHeartbeatAnswer() {}, onTasks: () => ({ results: [] }), onDrop() {}, onConnectUnimplemented() {} },
    quiet,
    coordinator.address,
    10_000,
  );
  connection.start();
  reporter = new Reporter((request) => connection.sendReports(request), (update) => acknowledged.push(update), quiet);
});

afterEach(async () => {
  coordinator.releaseReports();
  await reporter.flush(1000);
  await connection.close();
  coordinator.stop();
});

const started = (taskId: string, atMs: number): StatusUpdate => ({ task_id: taskId, status: 'STARTED', attempt: 1, worker_id: 7, at_ms: atMs });
const completed = (taskId: string, atMs: number): StatusUpdate => ({ task_id: taskId, status: 'COMPLETE', attempt: 1, worker_id: 7, at_ms: atMs, result: '"ok"' });
const batches = () => coordinator.messages.flatMap((message) => (message.reports ? [message.reports.updates] : []));

describe('Reporter', () => {
  test('large results go in batches that each fit the 4 MiB message limit; small ones still share a batch', async () => {
    // The fake coordinator's server has gRPC's default 4 MiB receive limit, as ours has.
    const big = 'x'.repeat(1_000_000);
    for (const id of ['big-1', 'big-2', 'big-3', 'big-4', 'big-5']) reporter.report({ ...completed(id, 1000), result: JSON.stringify(big) });
    for (const id of ['small-1', 'small-2']) reporter.report(completed(id, 1000));
    expect(await reporter.flush(10_000)).toBe(true);
    expect(acknowledged.map((update) => update.task_id)).toEqual(['big-1', 'big-2', 'big-3', 'big-4', 'big-5', 'small-1', 'small-2']);
    expect(batches().map((batch) => batch.map((update) => update.task_id))).toEqual([['big-1'], ['big-2'], ['big-3'], ['big-4'], ['big-5', 'small-1', 'small-2']]);
  });

  test('a task that finishes before its STARTED is sent sends one COMPLETE carrying the start time', async () => {
    reporter.report(started('a', 1000));
    reporter.report(completed('a', 1005));
    expect(await reporter.flush(5000)).toBe(true);
    expect(batches()).toEqual([[expect.objectContaining({ task_id: 'a', status: 'COMPLETE', at_ms: 1005, started_at_ms: 1000, result: '"ok"' })]]);
    expect(acknowledged.map((update) => update.task_id)).toEqual(['a']);
  });

  test('a STARTED already sent is not folded: the COMPLETE follows it in a later batch', async () => {
    coordinator.holdReports = true;
    reporter.report(started('b', 1000));
    await waitFor(() => batches().length === 1, 'the STARTED batch');
    reporter.report(completed('b', 1010));
    coordinator.releaseReports();
    expect(await reporter.flush(5000)).toBe(true);
    expect(batches().map((batch) => batch.map((update) => update.status))).toEqual([['STARTED'], ['COMPLETE']]);
    expect(batches()[1][0].started_at_ms).toBe(0);
  });

  test('a finish of another attempt does not replace the queued STARTED', async () => {
    reporter.report(started('c', 1000));
    reporter.report({ ...completed('c', 1005), attempt: 2 });
    await reporter.flush(5000);
    expect(batches()[0].map((update) => [update.status, update.attempt])).toEqual([['STARTED', 1], ['COMPLETE', 2]]);
  });

  test('reports of an attempt the coordinator dropped are not sent', async () => {
    coordinator.holdReports = true;
    reporter.report(started('d', 1000));
    await waitFor(() => batches().length === 1, 'the first batch');
    reporter.report(completed('d', 1010));
    reporter.report(started('e', 1020));
    reporter.discard('d', 1);
    coordinator.releaseReports();
    await reporter.flush(5000);
    expect(batches().map((batch) => batch.map((update) => `${update.task_id} ${update.status}`))).toEqual([['d STARTED'], ['e STARTED']]);
  });
});
