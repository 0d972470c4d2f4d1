import type { CoordinatorServiceClient, UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import { createLogger } from '../../common/src/logger';
import { StatusReporter } from '../src/reporter';

/** A coordinator client that records each UpdateTaskStatuses call and answers after `delayMs`. */
function fakeCoordinator(delayMs = 0) {
  const calls: UpdateTaskStatusRequest[][] = [];
  const client = {
    UpdateTaskStatuses(request: { updates: UpdateTaskStatusRequest[] }, _options: unknown, callback: (err: null, res: unknown) => void) {
      calls.push(request.updates.map((update) => ({ ...update })));
      setTimeout(() => callback(null, { results: request.updates.map(() => ({ success: true, message: '' })) }), delayMs);
    },
  } as unknown as CoordinatorServiceClient;
  return { client, calls };
}

const started = (taskId: string, atMs: number) => ({ task_id: taskId, status: 'STARTED' as const, attempt: 1, worker_id: 7, at_ms: atMs });
const completed = (taskId: string, atMs: number) => ({ task_id: taskId, status: 'COMPLETE' as const, attempt: 1, worker_id: 7, at_ms: atMs, result: 'ok' });

describe('StatusReporter', () => {
  const logger = createLogger('test', 'silent');

  test('a task that finishes before its STARTED is sent sends one COMPLETE carrying the start time', async () => {
    const { client, calls } = fakeCoordinator();
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('a', 1000));
    reporter.report(completed('a', 1005));
    await reporter.flush(1000);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([expect.objectContaining({ task_id: 'a', status: 'COMPLETE', at_ms: 1005, started_at_ms: 1000, result: 'ok' })]);
  });

  test('a STARTED already sent is not folded: the COMPLETE follows it in a later call', async () => {
    const { client, calls } = fakeCoordinator(20);
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('b', 1000));
    await new Promise((resolve) => setTimeout(resolve, 5));
    reporter.report(completed('b', 1010));
    await reporter.flush(1000);
    expect(calls.map((call) => call.map((update) => update.status))).toEqual([['STARTED'], ['COMPLETE']]);
    expect(calls[1][0].started_at_ms).toBeUndefined();
  });

  test('a finish of another attempt does not replace the queued STARTED', async () => {
    const { client, calls } = fakeCoordinator();
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('c', 1000));
    reporter.report({ ...completed('c', 1005), attempt: 2 });
    await reporter.flush(1000);
    expect(calls[0].map((update) => [update.status, update.attempt])).toEqual([['STARTED', 1], ['COMPLETE', 2]]);
  });
});
