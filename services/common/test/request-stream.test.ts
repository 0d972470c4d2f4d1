import * as grpc from '@grpc/grpc-js';
import { ValidationError } from '../src/errors';
import { createWorkerClient, grpcApi, type TaskBatchRequest, type TaskBatchResponse, type TaskRequest, type WorkerServiceClient } from '../src/grpc/contract';
import { RequestStream } from '../src/grpc/request-stream';
import { requestStream, startGrpcServer, unary, type GrpcServer } from '../src/grpc/server';
import { createLogger } from '../src/logger';
import { grpcClientRequests } from '../src/metrics';

/*
 * RequestStream (client) and requestStream (server) over real gRPC on loopback, with the WorkerService
 * methods: StreamTasks carries SubmitTasks requests.
 */
const logger = createLogger('test', 'silent');
const servers: GrpcServer[] = [];
const clients: WorkerServiceClient[] = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.close();
  await Promise.all(servers.splice(0).map((server) => server.shutdown(100)));
});

type Handler = (request: TaskBatchRequest) => Promise<TaskBatchResponse>;

/** Answers each task with its id in the message, after the task's attempt in ms. */
const echoAfterAttemptMs: Handler = async (request) => {
  await new Promise((resolve) => setTimeout(resolve, request.tasks[0]?.attempt ?? 0));
  return { results: request.tasks.map((task) => ({ task_id: task.task_id, success: true, message: `echo ${task.task_id}` })) };
};

async function serve(implementation: grpc.UntypedServiceImplementation) {
  const server = await startGrpcServer({
    host: '127.0.0.1', port: 0, service: grpcApi().WorkerService.service, serviceName: 'grpcapi.WorkerService', implementation,
  });
  servers.push(server);
  const client = createWorkerClient(`127.0.0.1:${server.port}`);
  clients.push(client);
  const stream = new RequestStream(client, { name: 'StreamTasks', stream: client.StreamTasks, unary: client.SubmitTasks });
  return { server, stream };
}

const batch = (id: string, attempt = 0): Partial<TaskBatchRequest> => ({ tasks: [{ task_id: id, data: 'noop', attempt, scheduled_at_ms: 0, start_after_ms: 0, name: '', payload: '', queue: '', timeout_ms: 0 }] });

async function requestsCounted(method: string, code: string): Promise<number> {
  const { values } = await grpcClientRequests.get();
  return values.filter((value) => value.labels.method === method && value.labels.code === code).reduce((sum, value) => sum + value.value, 0);
}

test('answers settle the requests they belong to, in order, with many in flight on one stream', async () => {
  let streams = 0;
  const handler = requestStream(logger, 'StreamTasks', echoAfterAttemptMs);
  const { stream } = await serve({ StreamTasks: (call: grpc.ServerDuplexStream<TaskBatchRequest, TaskBatchResponse>) => { streams++; handler(call); } });
  const okBefore = await requestsCounted('StreamTasks', 'OK');
  // Slow ones first: an answer that settled the wrong request would show another id.
  const ids = Array.from({ length: 20 }, (_, i) => `task-${i}`);
  const answers = await Promise.all(ids.map((id, i) => stream.call(batch(id, i < 5 ? 20 : 0), 5000)));
  expect(answers.map((answer) => answer.results[0].message)).toEqual(ids.map((id) => `echo ${id}`));
  expect(streams).toBe(1);
  expect(await requestsCounted('StreamTasks', 'OK')).toBe(okBefore + 20);
});

test('a refused request fails with its status, as do those behind it; the next call opens a new stream', async () => {
  let streams = 0;
  const handler = requestStream(logger, 'StreamTasks', async (request: TaskBatchRequest) => {
    if (request.tasks[0].task_id === 'bad') throw new ValidationError('task_id is bad', 'task_id');
    return echoAfterAttemptMs(request);
  });
  const { stream } = await serve({ StreamTasks: (call: grpc.ServerDuplexStream<TaskBatchRequest, TaskBatchResponse>) => { streams++; handler(call); } });
  const first = stream.call(batch('a'), 5000);
  const refused = stream.call(batch('bad'), 5000);
  const behind = stream.call(batch('b', 10), 5000);
  await expect(first).resolves.toMatchObject({ results: [{ message: 'echo a' }] });
  await expect(refused).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT, details: 'task_id is bad' });
  await expect(behind).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
  await expect(stream.call(batch('c'), 5000)).resolves.toMatchObject({ results: [{ message: 'echo c' }] });
  expect(streams).toBe(2);
});

test('a peer without the stream method gets the same requests as unary calls', async () => {
  const unaryCalls: string[] = [];
  const { stream } = await serve({
    SubmitTasks: unary(logger, 'SubmitTasks', async (request: TaskBatchRequest) => {
      unaryCalls.push(request.tasks[0].task_id);
      return echoAfterAttemptMs(request);
    }),
  });
  const answers = await Promise.all([stream.call(batch('x'), 5000), stream.call(batch('y'), 5000)]);
  expect(answers.map((answer) => answer.results[0].message)).toEqual(['echo x', 'echo y']);
  expect(await stream.call(batch('z'), 5000)).toMatchObject({ results: [{ message: 'echo z' }] });
  expect(unaryCalls.sort()).toEqual(['x', 'y', 'z']);
});

test('a peer with only the original one-item method gets each item as a call of it, in order, from then on; an item it refuses fails alone', async () => {
  const singleCalls: string[] = [];
  const server = await startGrpcServer({
    host: '127.0.0.1', port: 0, service: grpcApi().WorkerService.service, serviceName: 'grpcapi.WorkerService',
    implementation: {
      SubmitTask: unary(logger, 'SubmitTask', async (task: TaskRequest) => {
        singleCalls.push(task.task_id);
        if (task.task_id === 'bad') throw new ValidationError('task_id is bad', 'task_id');
        return { task_id: task.task_id, success: task.task_id !== 'refused', message: `one ${task.task_id}` };
      }),
    },
  });
  servers.push(server);
  const client = createWorkerClient(`127.0.0.1:${server.port}`);
  clients.push(client);
  const stream = new RequestStream(client, {
    name: 'StreamTasks', stream: client.StreamTasks, unary: client.SubmitTasks,
    single: {
      method: client.SubmitTask,
      split: (request) => request.tasks ?? [],
      join: (_request, results) => ({ results }),
      refused: (err) => (err.code === grpc.status.INVALID_ARGUMENT ? { task_id: '', success: false, message: err.details } : undefined),
    },
  });
  const refusedBefore = await requestsCounted('SubmitTasks', 'UNIMPLEMENTED');
  const three = { tasks: [...batch('a').tasks!, ...batch('refused').tasks!, ...batch('bad').tasks!] };
  expect(await stream.call(three, 5000)).toEqual({ results: [
    { task_id: 'a', success: true, message: 'one a' },
    { task_id: 'refused', success: false, message: 'one refused' },
    { task_id: '', success: false, message: 'task_id is bad' },
  ] });
  expect(stream.transport).toBe('single');
  expect(await stream.call(batch('b'), 5000)).toMatchObject({ results: [{ message: 'one b' }] });
  expect(singleCalls).toEqual(['a', 'refused', 'bad', 'b']);
  expect(await requestsCounted('SubmitTasks', 'UNIMPLEMENTED')).toBe(refusedBefore + 1);
});

test('a request not answered in time fails with DEADLINE_EXCEEDED, and so does every request behind it', async () => {
  const { stream } = await serve({ StreamTasks: requestStream(logger, 'StreamTasks', echoAfterAttemptMs) });
  const slow = stream.call(batch('slow', 500), 100);
  const behind = stream.call(batch('quick'), 5000);
  await expect(slow).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  await expect(behind).rejects.toMatchObject({ code: grpc.status.DEADLINE_EXCEEDED });
  await expect(stream.call(batch('after'), 5000)).resolves.toMatchObject({ results: [{ message: 'echo after' }] });
});

test('a server shutting down answers what it has, ends its streams, and stops without waiting out the grace', async () => {
  let received!: () => void;
  const arrived = new Promise<void>((resolve) => (received = resolve));
  const { server, stream } = await serve({ StreamTasks: requestStream(logger, 'StreamTasks', (request: TaskBatchRequest) => {
    received();
    return echoAfterAttemptMs(request);
  }) });
  const inFlight = stream.call(batch('last', 50), 5000);
  // Shut down once the server has the request (a fixed wait was too short on a loaded machine).
  await arrived;
  const started = Date.now();
  await server.shutdown(10_000);
  expect(Date.now() - started).toBeLessThan(5000);
  await expect(inFlight).resolves.toMatchObject({ results: [{ message: 'echo last' }] });
  await expect(stream.call(batch('late'), 1000)).rejects.toMatchObject({ code: expect.any(Number) });
});
