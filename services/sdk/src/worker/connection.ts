import * as grpc from '@grpc/grpc-js';
import type { CoordinatorMessage__Output } from '../generated/grpcapi/CoordinatorMessage';
import type { CoordinatorServiceClient } from '../generated/grpcapi/CoordinatorService';
import type { DropTasks__Output } from '../generated/grpcapi/DropTasks';
import type { HeartbeatRequest } from '../generated/grpcapi/HeartbeatRequest';
import type { HeartbeatResponse__Output } from '../generated/grpcapi/HeartbeatResponse';
import type { TaskBatchRequest__Output } from '../generated/grpcapi/TaskBatchRequest';
import type { TaskBatchResponse } from '../generated/grpcapi/TaskBatchResponse';
import type { UpdateTaskStatusBatchRequest } from '../generated/grpcapi/UpdateTaskStatusBatchRequest';
import type { UpdateTaskStatusBatchResponse__Output } from '../generated/grpcapi/UpdateTaskStatusBatchResponse';
import type { WorkerMessage } from '../generated/grpcapi/WorkerMessage';
import type { Logger } from '../logger';

const BACKOFF_FIRST_MS = 100;
const BACKOFF_MAX_MS = 5000;

export interface ConnectionHandlers {
  /** The heartbeat to send now: the first message of every stream, and every beat after it. */
  heartbeat(): HeartbeatRequest;
  /** The coordinator's answer to a heartbeat (its `drop` list). */
  onHeartbeatAnswer(answer: HeartbeatResponse__Output): void;
  /** Tasks sent to this worker; the answer goes back at once with their seq. */
  onTasks(batch: TaskBatchRequest__Output): TaskBatchResponse;
  /** Attempts to stop now (cancelled, or timed out at the coordinator); not answered. */
  onDrop(drop: DropTasks__Output): void;
  /**
   * The coordinator answered Connect with UNIMPLEMENTED: it is an original-contract coordinator. The
   * connection stops (it does not reconnect) and the worker goes on in the dialled mode (DialledLink).
   */
  onConnectUnimplemented(): void;
}

type Stream = grpc.ClientDuplexStream<WorkerMessage, CoordinatorMessage__Output>;

interface Pending {
  resolve(message: CoordinatorMessage__Output): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * The worker's one connection to the coordinator: the Connect stream, which the worker dials, so it needs
 * no inbound port. Requests (heartbeats, reports) carry a seq and are answered with it; tasks come with the
 * coordinator's seq and are answered with it. When the stream breaks it is opened again with capped
 * exponential backoff (100 ms to 5 s), and the first message on every stream is a heartbeat with everything
 * the worker holds. Reports wait until that heartbeat is acknowledged, so the coordinator has registered the
 * worker before it reads them. A request not answered within `requestTimeoutMs` breaks the stream: a
 * coordinator that stopped answering is treated as gone. A coordinator that answers Connect with UNIMPLEMENTED
 * (an original-contract one) is not retried: the worker switches to DialledLink for the rest of its life.
 */
export class Connection {
  private stream: Stream | undefined;
  /** The current stream's first heartbeat was acknowledged: requests may go out. */
  private ready = false;
  private seq = 0;
  private readonly pending = new Map<number, Pending>();
  private readyWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private failures = 0;
  private everConnected = false;
  private closed = false;
  private reconnectTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: CoordinatorServiceClient,
    private readonly handlers: ConnectionHandlers,
    private readonly logger: Logger,
    private readonly coordinator: string,
    private readonly requestTimeoutMs: number,
  ) {}

  get connected(): boolean {
    return this.ready;
  }

  start(): void {
    this.open();
  }

  /** Sends a heartbeat on the current stream (none while reconnecting: the reconnect sends one). */
  beat(overrides: Partial<HeartbeatRequest> = {}): Promise<boolean> {
    const stream = this.stream;
    if (!stream) return Promise.resolve(false);
    return this.send(stream, { heartbeat: { ...this.handlers.heartbeat(), ...overrides } }).then(
      (answer) => {
        if (answer.heartbeat) this.handlers.onHeartbeatAnswer(answer.heartbeat);
        return true;
      },
      () => false,
    );
  }

  /** Sends one batch of reports once a stream is ready; rejects if the stream breaks before the answer. */
  async sendReports(request: UpdateTaskStatusBatchRequest): Promise<UpdateTaskStatusBatchResponse__Output> {
    while (!this.ready || !this.stream) {
      if (this.closed) throw new Error('connection closed');
      await new Promise<void>((resolve, reject) => this.readyWaiters.push({ resolve, reject }));
    }
    const answer = await this.send(this.stream, { reports: request });
    return answer.reports ?? { results: [] };
  }

  /** Ends the stream (the coordinator sees the worker go) and stops reconnecting. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closed) return; // closed already, or handed over to the dialled mode, which owns the client now
    this.closed = true;
    clearTimeout(this.reconnectTimer);
    for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('connection closed'));
    const stream = this.stream;
    if (stream) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, timeoutMs);
        stream.once('status', () => {
          clearTimeout(timer);
          resolve();
        });
        stream.end();
      });
      this.broken(stream, new Error('connection closed'));
    }
    this.client.close();
  }

  private open(): void {
    if (this.closed) return;
    const stream = this.client.Connect();
    this.stream = stream;
    this.ready = false;
    this.seq = 0;
    stream.on('data', (message: CoordinatorMessage__Output) => this.receive(stream, message));
    stream.on('error', (err: grpc.ServiceError) => this.broken(stream, err));
    stream.on('end', () => this.broken(stream, new Error('the coordinator ended the stream')));
    this.beat().then((acknowledged) => {
      if (!acknowledged || this.stream !== stream) return;
      this.ready = true;
      if (!this.everConnected || this.failures > 0) {
        this.logger.info({ coordinator: this.coordinator }, this.everConnected ? 'reconnected to the coordinator' : 'registered with the coordinator');
      }
      this.everConnected = true;
      this.failures = 0;
      for (const waiter of this.readyWaiters.splice(0)) waiter.resolve();
    });
  }

  private send(stream: Stream, body: Omit<WorkerMessage, 'seq'>): Promise<CoordinatorMessage__Output> {
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => this.broken(stream, new Error(`no answer from the coordinator within ${this.requestTimeoutMs} ms`)), this.requestTimeoutMs);
      this.pending.set(seq, { resolve, reject, timer });
      stream.write({ seq, ...body });
    });
  }

  private receive(stream: Stream, message: CoordinatorMessage__Output): void {
    if (stream !== this.stream) return;
    if (message.body === 'tasks' && message.tasks) {
      stream.write({ seq: message.seq, accepted: this.handlers.onTasks(message.tasks) });
      return;
    }
    if (message.body === 'drop' && message.drop) {
      this.handlers.onDrop(message.drop);
      return;
    }
    const pending = this.pending.get(message.seq);
    if (!pending) {
      this.logger.debug({ seq: message.seq, body: message.body }, 'answer to no pending request');
      return;
    }
    this.pending.delete(message.seq);
    clearTimeout(pending.timer);
    pending.resolve(message);
  }

  /** The stream `stream` is gone: fail what waits on it and, unless closing, open another after a backoff. */
  private broken(stream: Stream, err: Error): void {
    if (stream !== this.stream) return;
    this.stream = undefined;
    this.ready = false;
    stream.on('error', () => {}); // cancel() below reports CANCELLED on it
    stream.cancel();
    for (const pending of this.pending.values()) {
      clearTimeout(pending.timer);
      pending.reject(err);
    }
    this.pending.clear();
    if (this.closed) return;
    if ((err as Partial<grpc.ServiceError>).code === grpc.status.UNIMPLEMENTED) {
      // Not a fault to retry: this coordinator will never serve Connect. The client stays open for the
      // dialled mode, which uses the same channel.
      this.closed = true;
      for (const waiter of this.readyWaiters.splice(0)) waiter.reject(new Error('the coordinator does not serve Connect'));
      this.handlers.onConnectUnimplemented();
      return;
    }
    this.failures++;
    if (this.failures === 1 || this.failures % 20 === 0) {
      this.logger.warn({ coordinator: this.coordinator, err: err.message, failures: this.failures }, 'connection to the coordinator lost; reconnecting');
    }
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_FIRST_MS * 2 ** (this.failures - 1));
    this.reconnectTimer = setTimeout(() => this.open(), delay);
  }
}
