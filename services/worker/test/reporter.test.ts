import { createCoordinatorClient, grpcApi, type UpdateTaskStatusBatchRequest, type UpdateTaskStatusRequest } from '../../common/src/grpc/contract';
import { requestStream, startGrpcServer, type GrpcServer } from '../../common/src/grpc/server';
import { createLogger } from '../../common/src/logger';
import { joinReports, splitReports, StatusReporter } from '../src/reporter';

const logger = createLogger('test', 'silent');
const servers: GrpcServer[] = [];
const clients: { close(): void }[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.shutdown(100)));
});

/** A real gRPC coordinator that records each batch of its report stream and answers after `delayMs`. */
async function fakeCoordinator(delayMs = 0) {
  const calls: UpdateTaskStatusRequest[][] = [];
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    service: grpcApi().CoordinatorService.service,
    serviceName: 'grpcapi.CoordinatorService',
    implementation: {
      StreamTaskStatuses: requestStream(logger, 'StreamTaskStatuses', async (request: UpdateTaskStatusBatchRequest) => {
        calls.push(request.updates);
        await new Promise((resolve) => setTimeout(resolve, delayMs));
        return { results: request.updates.map(() => ({ success: true, message: '' })) };
      }),
    },
  });
  servers.push(server);
  const client = createCoordinatorClient(`127.0.0.1:${server.port}`);
  clients.push(client);
  return { client, calls };
}

const started = (taskId: string, atMs: number) => ({ task_id: taskId, status: 'STARTED' as const, attempt: 1, worker_id: 7, at_ms: atMs });
const completed = (taskId: string, atMs: number) => ({ task_id: taskId, status: 'COMPLETE' as const, attempt: 1, worker_id: 7, at_ms: atMs, result: 'ok' });

describe('StatusReporter', () => {
  test('a task that finishes before its STARTED is sent sends one COMPLETE carrying the start time', async () => {
    const { client, calls } = await fakeCoordinator();
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('a', 1000));
    reporter.report(completed('a', 1005));
    await reporter.flush(1000);
    expect(calls).toHaveLength(1);
    expect(calls[0]).toEqual([expect.objectContaining({ task_id: 'a', status: 'COMPLETE', at_ms: 1005, started_at_ms: 1000, result: 'ok' })]);
  });

  test('a STARTED already sent is not folded: the COMPLETE follows it in a later call', async () => {
    const { client, calls } = await fakeCoordinator(20);
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('b', 1000));
    await new Promise((resolve) => setTimeout(resolve, 5));
    reporter.report(completed('b', 1010));
    await reporter.flush(1000);
    expect(calls.map((call) => call.map((update) => update.status))).toEqual([['STARTED'], ['COMPLETE']]);
    expect(calls[1][0].started_at_ms).toBe(0);
  });

  test('a finish of another attempt does not replace the queued STARTED', async () => {
    const { client, calls } = await fakeCoordinator();
    const reporter = new StatusReporter(client, logger);
    reporter.report(started('c', 1000));
    reporter.report({ ...completed('c', 1005), attempt: 2 });
    await reporter.flush(1000);
    expect(calls[0].map((update) => [update.status, update.attempt])).toEqual([['STARTED', 1], ['COMPLETE', 2]]);
  });
});

describe('splitReports and joinReports (a coordinator with only UpdateTaskStatus)', () => {
  test('a finish that folded its STARTED in goes as STARTED then the finish, and its result fails if either part failed', () => {
    const folded = { ...completed('a', 5_000), started_at_ms: 3_500 };
    const batch = { updates: [started('b', 1_000), folded] as UpdateTaskStatusRequest[] };
    const parts = splitReports(batch);
    expect(parts).toEqual([
      started('b', 1_000),
      { task_id: 'a', status: 'STARTED', started_at: 3, at_ms: 3_500, worker_id: 7, attempt: 1 },
      { ...folded, started_at_ms: 0 },
    ]);
    const joined = joinReports(batch, [{ success: true, message: '' }, { success: false, message: 'stale' }, { success: true, message: '' }]);
    expect(joined.results).toEqual([{ success: true, message: '' }, { success: false, message: 'stale' }]);
  });
});
