import * as grpc from '@grpc/grpc-js';
import type { CoordinatorServiceClient } from '../generated/grpcapi/CoordinatorService';
import type { HeartbeatRequest } from '../generated/grpcapi/HeartbeatRequest';
import type { HeartbeatResponse__Output } from '../generated/grpcapi/HeartbeatResponse';
import type { TaskBatchRequest__Output } from '../generated/grpcapi/TaskBatchRequest';
import type { TaskBatchResponse } from '../generated/grpcapi/TaskBatchResponse';
import type { TaskRequest__Output } from '../generated/grpcapi/TaskRequest';
import type { TaskResponse } from '../generated/grpcapi/TaskResponse';
import type { UpdateTaskStatusBatchRequest } from '../generated/grpcapi/UpdateTaskStatusBatchRequest';
import type { UpdateTaskStatusBatchResponse__Output } from '../generated/grpcapi/UpdateTaskStatusBatchResponse';
import type { UpdateTaskStatusRequest } from '../generated/grpcapi/UpdateTaskStatusRequest';
import type { UpdateTaskStatusResponse__Output } from '../generated/grpcapi/UpdateTaskStatusResponse';
import type { WorkerServiceHandlers } from '../generated/grpcapi/WorkerService';
import { RequestStream } from '../grpc/request-stream';
import { callUnary, type Bidi, type Unary } from '../grpc/unary';
import type { Logger } from '../logger';
import type { ConnectionHandlers } from './connection';
import type { ListenOptions } from './options';
import { grpcApi } from './proto';

/**
 * The worker's link to an original-contract coordinator, which has no Connect and dials its workers: the
 * worker serves WorkerService (SubmitTask, SubmitTasks, StreamTasks; tasks are accepted as on Connect) on
 * `listen`, advertises its address in unary SendHeartbeat calls, and sends reports over the fallback chain
 * StreamTaskStatuses, UpdateTaskStatuses, UpdateTaskStatus (one report per call), remembering which one the
 * coordinator answers. This is the only mode in which the worker opens a listening socket.
 */
export class DialledLink {
  private server: grpc.Server | undefined;
  private address = '';
  private registered = false;
  private reachable: boolean | undefined;
  private closed = false;
  private readonly starting: Promise<void>;
  private readonly reports: RequestStream<UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse__Output, UpdateTaskStatusRequest, UpdateTaskStatusResponse__Output>;

  constructor(
    private readonly client: CoordinatorServiceClient,
    private readonly handlers: Pick<ConnectionHandlers, 'heartbeat' | 'onHeartbeatAnswer' | 'onTasks'>,
    private readonly listen: ListenOptions,
    private readonly logger: Logger,
    private readonly coordinator: string,
    private readonly requestTimeoutMs: number,
  ) {
    // The generated client's methods are overloaded; these are the signatures used here.
    type Batch = [UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse__Output];
    this.reports = new RequestStream(client, {
      name: 'StreamTaskStatuses',
      stream: client.StreamTaskStatuses as unknown as Bidi<Batch[0], Batch[1]>,
      unary: client.UpdateTaskStatuses as unknown as Unary<Batch[0], Batch[1]>,
      single: {
        method: client.UpdateTaskStatus as unknown as Unary<UpdateTaskStatusRequest, UpdateTaskStatusResponse__Output>,
        split: splitReports,
        join: joinReports,
        refused: refusedReport,
      },
    });
    this.starting = this.serve();
  }

  /** Listening, and the coordinator acknowledged a heartbeat. */
  get connected(): boolean {
    return this.registered;
  }

  /** Sends one unary heartbeat with the worker's address; resolves to whether it was answered. */
  async beat(overrides: Partial<HeartbeatRequest> = {}): Promise<boolean> {
    await this.starting;
    if (!this.server) return false;
    try {
      const sendHeartbeat = this.client.SendHeartbeat as unknown as Unary<HeartbeatRequest, HeartbeatResponse__Output>;
      const answer = await callUnary(this.client, sendHeartbeat, { ...this.handlers.heartbeat(), address: this.address, ...overrides }, this.requestTimeoutMs);
      this.handlers.onHeartbeatAnswer(answer);
      if (this.reachable !== true) this.logger.info({ coordinator: this.coordinator, address: this.address }, 'registered with the coordinator (dialled mode)');
      this.reachable = this.registered = true;
      return true;
    } catch (err) {
      if (this.reachable !== false) this.logger.warn({ coordinator: this.coordinator, err: (err as Error).message }, 'heartbeat failed: coordinator unreachable; retrying');
      this.reachable = this.registered = false;
      return false;
    }
  }

  sendReports(request: UpdateTaskStatusBatchRequest): Promise<UpdateTaskStatusBatchResponse__Output> {
    if (this.closed) return Promise.reject(new Error('connection closed'));
    return this.reports.call(request, this.requestTimeoutMs);
  }

  /** Stops serving (calls under way get a second to finish) and closes the client. */
  async close(timeoutMs = 1000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.starting;
    this.reports.close();
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, timeoutMs);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
    this.client.close();
  }

  private async serve(): Promise<void> {
    const { host, port, address } = this.listen;
    const server = new grpc.Server();
    const accept = (task: TaskRequest__Output): TaskResponse => this.handlers.onTasks({ tasks: [task] }).results![0] as TaskResponse;
    const acceptAll = (batch: TaskBatchRequest__Output): TaskBatchResponse => this.handlers.onTasks(batch);
    const implementation: WorkerServiceHandlers = {
      SubmitTask: (call, callback) => {
        if (call.request.task_id === '') callback({ code: grpc.status.INVALID_ARGUMENT, details: 'task_id is empty' });
        else callback(null, accept(call.request));
      },
      SubmitTasks: (call, callback) => callback(null, acceptAll(call.request)),
      // One answer per batch, in the order the batches came: the coordinator's RequestStream pairs them so.
      StreamTasks: (call) => {
        call.on('data', (batch: TaskBatchRequest__Output) => call.write(acceptAll(batch)));
        call.on('end', () => call.end());
        call.on('error', () => {});
      },
    };
    server.addService(grpcApi().grpcapi.WorkerService.service, implementation);
    try {
      const bound = await new Promise<number>((resolve, reject) =>
        server.bindAsync(`${host.includes(':') ? `[${host}]` : host}:${port}`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
      );
      this.server = server;
      this.address = /:\d+$/.test(address) ? address : `${address}:${bound}`;
      this.logger.info({ coordinator: this.coordinator, address: this.address }, 'the coordinator does not serve Connect (an original-contract coordinator): serving WorkerService for it to dial');
    } catch (err) {
      this.logger.error({ coordinator: this.coordinator, host, port, err: (err as Error).message }, 'the coordinator does not serve Connect, and the worker cannot listen for it to dial: no work will come');
    }
  }
}

/**
 * The one-report calls that stand for a batch, for a coordinator that knows only UpdateTaskStatus. A finish
 * that carries its STARTED folded in (started_at_ms) goes as two reports again, STARTED first: the original
 * coordinator records started_at only from a STARTED report, and does not know started_at_ms.
 */
function splitReports(batch: Partial<UpdateTaskStatusBatchRequest>): Partial<UpdateTaskStatusRequest>[] {
  return (batch.updates ?? []).flatMap((update) => {
    if (update.status === 'STARTED' || !update.started_at_ms) return [update];
    const at = Number(update.started_at_ms);
    const started = { task_id: update.task_id, status: 'STARTED' as const, started_at: Math.floor(at / 1000), at_ms: at, worker_id: update.worker_id, attempt: update.attempt };
    return [started, { ...update, started_at_ms: 0 }];
  });
}

/** One result per report of the batch from the answers to splitReports' calls: failed if any part failed. */
function joinReports(batch: Partial<UpdateTaskStatusBatchRequest>, responses: UpdateTaskStatusResponse__Output[]): UpdateTaskStatusBatchResponse__Output {
  let next = 0;
  const results = (batch.updates ?? []).map((update) => {
    const parts = responses.slice(next, (next += update.status === 'STARTED' || !update.started_at_ms ? 1 : 2));
    return parts.find((part) => !part.success) ?? parts[parts.length - 1];
  });
  return { results };
}

/** A report the coordinator judged alone (bad, unknown or stale) is dropped like a refused batch item; any other error retries. */
function refusedReport(err: grpc.ServiceError): UpdateTaskStatusResponse__Output | undefined {
  const alone = [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION];
  return alone.includes(err.code) ? { success: false, message: err.details } : undefined;
}
