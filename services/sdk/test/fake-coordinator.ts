import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CoordinatorMessage } from '../src/generated/grpcapi/CoordinatorMessage';
import type { HeartbeatRequest__Output } from '../src/generated/grpcapi/HeartbeatRequest';
import type { HeldTask } from '../src/generated/grpcapi/HeldTask';
import type { TaskRequest } from '../src/generated/grpcapi/TaskRequest';
import type { TaskResponse__Output } from '../src/generated/grpcapi/TaskResponse';
import type { UpdateTaskStatusRequest__Output } from '../src/generated/grpcapi/UpdateTaskStatusRequest';
import type { WorkerMessage__Output } from '../src/generated/grpcapi/WorkerMessage';
import type { ProtoGrpcType } from '../src/generated/taskmaster';
import { findProto } from '../src/worker/proto';

type Call = grpc.ServerDuplexStream<WorkerMessage__Output, CoordinatorMessage>;

/** One Connect stream as the fake coordinator saw it. */
export interface SeenStream {
  call: Call;
  messages: WorkerMessage__Output[];
  ended: boolean;
}

/**
 * A real gRPC server that plays the coordinator's side of Connect as the protocol says: it answers each
 * heartbeat (with `drops`, once) and each batch of reports with the same seq, and sends tasks on the newest
 * stream. `holdReports` keeps report batches unanswered, as a coordinator that has not flushed them yet.
 */
export class FakeCoordinator {
  readonly streams: SeenStream[] = [];
  drops: HeldTask[] = [];
  holdReports = false;
  private seq = 1000;
  private readonly answers = new Map<number, (results: TaskResponse__Output[]) => void>();

  private constructor(
    private readonly server: grpc.Server,
    readonly port: number,
  ) {}

  static async start(): Promise<FakeCoordinator> {
    const api = grpc.loadPackageDefinition(
      protoLoader.loadSync(findProto(), { keepCase: true, longs: Number, enums: String, defaults: true, oneofs: true }),
    ) as unknown as ProtoGrpcType;
    const server = new grpc.Server();
    let fake: FakeCoordinator | undefined;
    server.addService(api.grpcapi.CoordinatorService.service, { Connect: (call: Call) => fake!.connect(call) } as grpc.UntypedServiceImplementation);
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (err, bound) => (err ? reject(err) : resolve(bound))),
    );
    fake = new FakeCoordinator(server, port);
    return fake;
  }

  get address(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Every message received on every stream, in order. */
  get messages(): WorkerMessage__Output[] {
    return this.streams.flatMap((stream) => stream.messages);
  }

  get heartbeats(): HeartbeatRequest__Output[] {
    return this.messages.flatMap((message) => (message.heartbeat ? [message.heartbeat] : []));
  }

  get reports(): UpdateTaskStatusRequest__Output[] {
    return this.messages.flatMap((message) => message.reports?.updates ?? []);
  }

  /** Sends tasks on the newest stream; resolves to the worker's answers. */
  sendTasks(tasks: Partial<TaskRequest>[]): Promise<TaskResponse__Output[]> {
    const stream = this.streams.at(-1)!;
    const seq = ++this.seq;
    return new Promise((resolve) => {
      this.answers.set(seq, resolve);
      stream.call.write({ seq, tasks: { tasks } });
    });
  }

  /** Ends the newest stream with UNAVAILABLE, as a coordinator restart or a network fault does. */
  breakStream(): void {
    this.streams.at(-1)!.call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'coordinator went away' });
  }

  /** Answers the report batches held back so far on the newest stream, and stops holding them. */
  releaseReports(): void {
    this.holdReports = false;
    const stream = this.streams.at(-1);
    if (!stream) return;
    for (const message of stream.messages) {
      if (message.reports && !this.answered.has(message)) this.answerReports(stream, message);
    }
  }

  stop(): void {
    this.server.forceShutdown();
  }

  private readonly answered = new Set<WorkerMessage__Output>();

  private connect(call: Call): void {
    const stream: SeenStream = { call, messages: [], ended: false };
    this.streams.push(stream);
    call.on('data', (message: WorkerMessage__Output) => {
      stream.messages.push(message);
      if (message.heartbeat) {
        const drop = this.drops.splice(0);
        call.write({ seq: message.seq, heartbeat: { acknowledged: true, drop } });
      } else if (message.reports && !this.holdReports) {
        this.answerReports(stream, message);
      } else if (message.accepted) {
        this.answers.get(message.seq)?.(message.accepted.results);
        this.answers.delete(message.seq);
      }
    });
    call.on('end', () => {
      stream.ended = true;
      call.end();
    });
    call.on('error', () => {});
  }

  private answerReports(stream: SeenStream, message: WorkerMessage__Output): void {
    this.answered.add(message);
    const results = message.reports!.updates.map(() => ({ success: true, message: '' }));
    stream.call.write({ seq: message.seq, reports: { results } });
  }
}

/** Polls `probe` until it returns something other than undefined or false. */
export async function waitFor<T>(probe: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/**
 * A task id that reads as its label (up to 6 characters) in the test: 'a' is 00000000-0000-4000-8000-000000000061.
 * Workers take only UUIDs as task ids, as the coordinator makes them.
 */
export function taskUuid(label: string): string {
  return `00000000-0000-4000-8000-${Buffer.from(label).toString('hex').padStart(12, '0').slice(-12)}`;
}

/** The label of a taskUuid id. */
export function taskLabel(taskId: string): string {
  return Buffer.from(taskId.slice(-12).replace(/^(00)+/, ''), 'hex').toString();
}
