import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { HeartbeatRequest__Output } from '../src/generated/grpcapi/HeartbeatRequest';
import type { HeldTask } from '../src/generated/grpcapi/HeldTask';
import type { TaskRequest } from '../src/generated/grpcapi/TaskRequest';
import type { TaskResponse__Output } from '../src/generated/grpcapi/TaskResponse';
import type { UpdateTaskStatusRequest__Output } from '../src/generated/grpcapi/UpdateTaskStatusRequest';
import type { WorkerServiceClient } from '../src/generated/grpcapi/WorkerService';
import type { ProtoGrpcType } from '../src/generated/taskmaster';
import { defineTask, startWorker, type Logger, type Worker } from '../src/index';
import { findProto } from '../src/worker/proto';
import { taskUuid, waitFor } from './fake-coordinator';

const api = grpc.loadPackageDefinition(
  protoLoader.loadSync(findProto(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }),
) as unknown as ProtoGrpcType;

/**
 * A coordinator of the original contract, as small as it gets: it serves SendHeartbeat and UpdateTaskStatus
 * only (Connect, UpdateTaskStatuses and StreamTaskStatuses answer UNIMPLEMENTED, as grpc-js does for a
 * method without a handler), and dials the worker's WorkerService at the address its heartbeat gives.
 * `drop` is answered in the next heartbeat's answer, as our coordinator does for a dialled worker.
 */
class OriginalCoordinator {
  readonly heartbeats: HeartbeatRequest__Output[] = [];
  readonly reports: UpdateTaskStatusRequest__Output[] = [];
  drop: HeldTask[] = [];
  private workerClient: WorkerServiceClient | undefined;

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<OriginalCoordinator> {
    const server = new grpc.Server();
    let coordinator: OriginalCoordinator | undefined;
    server.addService(api.grpcapi.CoordinatorService.service, {
      SendHeartbeat: (call: grpc.ServerUnaryCall<HeartbeatRequest__Output, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        coordinator!.heartbeats.push(call.request);
        callback(null, { acknowledged: true, drop: coordinator!.drop.splice(0) });
      },
      UpdateTaskStatus: (call: grpc.ServerUnaryCall<UpdateTaskStatusRequest__Output, unknown>, callback: grpc.sendUnaryData<unknown>) => {
        coordinator!.reports.push(call.request);
        callback(null, { success: true, message: '' });
      },
    } as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    coordinator = new OriginalCoordinator(server, port);
    return coordinator;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Dials the address of the first heartbeat and sends the task with SubmitTask, as the original does. */
  submit(task: Partial<TaskRequest>): Promise<TaskResponse__Output> {
    this.workerClient ??= new api.grpcapi.WorkerService(this.heartbeats[0].address, grpc.credentials.createInsecure());
    return new Promise((resolve, reject) => this.workerClient!.SubmitTask(task, (err, response) => (err ? reject(err) : resolve(response!))));
  }

  statuses(label: string): string[] {
    return this.reports.filter((report) => report.task_id === taskUuid(label)).map((report) => report.status);
  }

  stop(): void {
    this.workerClient?.close();
    this.server.forceShutdown();
  }
}

const aborted = new Set<string>();
const echo = defineTask({ name: 'echo', run: (payload: unknown) => payload });
const wait = defineTask({
  name: 'wait',
  run: (_payload: unknown, ctx) =>
    new Promise((_resolve, reject) =>
      ctx.signal.addEventListener('abort', () => {
        aborted.add(ctx.taskId);
        reject(new Error('aborted'));
      }),
    ),
});
const quiet: Logger = { debug() {}, info() {}, warn() {}, error() {} };

let coordinator: OriginalCoordinator;
let worker: Worker | undefined;

beforeEach(async () => {
  aborted.clear();
  coordinator = await OriginalCoordinator.start();
  worker = await startWorker({
    coordinator: coordinator.address,
    tasks: [echo, wait],
    slots: 20,
    heartbeatIntervalMs: 50,
    drainTimeoutMs: 100,
    logger: quiet,
    listen: { host: '127.0.0.1', port: 0, address: '127.0.0.1' },
  });
  await waitFor(() => worker!.connected, 'the worker to register in the dialled mode');
});

afterEach(async () => {
  await worker?.stop();
  worker = undefined;
  coordinator.stop();
});

describe('against a coordinator without Connect', () => {
  test('the worker listens, is dialled, and reports every task once, STARTED before COMPLETE, one report per call', async () => {
    const heartbeat = coordinator.heartbeats[0];
    expect(heartbeat.address).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(heartbeat.handles.sort()).toEqual(['echo', 'wait']);
    const ids = Array.from({ length: 10 }, (_, i) => `t${i}`);
    const answers = await Promise.all(ids.map((id) => coordinator.submit({ task_id: taskUuid(id), attempt: 1, name: 'echo', payload: `{"n":"${id}"}` })));
    expect(answers.map((answer) => answer.success)).toEqual(ids.map(() => true));
    await waitFor(() => coordinator.reports.length >= 2 * ids.length, `${2 * ids.length} reports`);
    for (const id of ids) expect(coordinator.statuses(id)).toEqual(['STARTED', 'COMPLETE']);
    const completes = coordinator.reports.filter((report) => report.status === 'COMPLETE');
    expect(completes.map((report) => report.started_at_ms)).toEqual(ids.map(() => 0));
    expect(JSON.parse(completes.find((report) => report.task_id === taskUuid('t3'))!.result)).toEqual({ n: 't3' });
    // Nothing more arrives: no report is sent twice.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(coordinator.reports).toHaveLength(2 * ids.length);
  });

  test('a bad task is INVALID_ARGUMENT; a task of a type it does not run is refused', async () => {
    await expect(coordinator.submit({ task_id: '', attempt: 1, name: 'echo' })).rejects.toMatchObject({ code: grpc.status.INVALID_ARGUMENT });
    expect(await coordinator.submit({ task_id: taskUuid('x'), attempt: 1, name: 'resize' })).toMatchObject({ success: false });
  });

  test('`drop` in a SendHeartbeat answer aborts the attempt and nothing more is reported for it', async () => {
    expect((await coordinator.submit({ task_id: taskUuid('w'), attempt: 2, name: 'wait' })).success).toBe(true);
    await waitFor(() => coordinator.statuses('w').includes('STARTED'), 'the STARTED report');
    await waitFor(() => coordinator.heartbeats.at(-1)!.held.some((held) => held.task_id === taskUuid('w')), 'a heartbeat listing the attempt');
    coordinator.drop = [{ task_id: taskUuid('w'), attempt: 2 }];
    await waitFor(() => aborted.has(taskUuid('w')), 'the attempt to be aborted');
    await waitFor(() => !coordinator.heartbeats.at(-1)!.held.some((held) => held.task_id === taskUuid('w')), 'a heartbeat without it');
    expect(worker!.busy).toBe(0);
    expect(coordinator.statuses('w')).toEqual(['STARTED']);
  });
});
