import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/src/logger';
import { answer, checkDecoded, type StreamHandler } from '../../common/src/grpc/server';
import type {
  CoordinatorMessage, HeartbeatRequest, HeartbeatResponse, HeldTask, TaskRequest, TaskResponse,
  UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse, WorkerMessage,
} from '../../common/src/grpc/contract';
import { ValidationError } from '../../common/src/errors';
import type { WorkerTransport } from './registry';

type ConnectCall = grpc.ServerDuplexStream<WorkerMessage, Partial<CoordinatorMessage>>;

interface Waiting {
  resolve: (results: TaskResponse[]) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * The coordinator's end of a worker's Connect stream, as the transport the dispatcher sends tasks on: each
 * `tasks` message carries a seq, and the worker's `accepted` message with the same seq answers it.
 */
class ConnectedWorker implements WorkerTransport {
  readonly kind = 'connected';
  private seq = 0;
  private readonly waiting = new Map<number, Waiting>();
  private closed = false;

  constructor(private readonly call: ConnectCall) {}

  submit(tasks: TaskRequest[], timeoutMs: number): Promise<TaskResponse[]> {
    if (this.closed) return Promise.reject(unavailable('the worker is not connected'));
    const seq = ++this.seq;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(seq);
        reject(Object.assign(new Error(`no answer from the worker within ${timeoutMs} ms`), { code: grpc.status.DEADLINE_EXCEEDED }));
      }, timeoutMs);
      this.waiting.set(seq, { resolve, reject, timer });
      this.call.write({ seq, tasks: { tasks } });
    });
  }

  /** Unanswered, so seq 0: the worker matches it to no request. */
  drop(tasks: HeldTask[], reason: string): void {
    if (!this.closed) this.call.write({ seq: 0, drop: { tasks, reason } });
  }

  accepted(seq: number, results: TaskResponse[]): void {
    const waiting = this.waiting.get(seq);
    if (!waiting) return;
    this.waiting.delete(seq);
    clearTimeout(waiting.timer);
    waiting.resolve(results);
  }

  /** The stream ended: what was waiting fails as a broken unary call would. */
  disconnected(): void {
    this.closed = true;
    for (const [seq, waiting] of this.waiting) {
      this.waiting.delete(seq);
      clearTimeout(waiting.timer);
      waiting.reject(unavailable('the worker disconnected'));
    }
  }

  get connected(): boolean {
    return !this.closed;
  }

  close(): void {
    if (this.closed) return;
    this.disconnected();
    this.call.end();
  }
}

function unavailable(message: string): Error {
  return Object.assign(new Error(message), { code: grpc.status.UNAVAILABLE });
}

export interface ConnectDeps {
  logger: Logger;
  /** Who the stream comes from (a worker certificate's name, null on a plaintext port); throws to refuse it. */
  identify: (call: ConnectCall) => string | null;
  /** The heartbeat handler shared with SendHeartbeat, told which stream the worker is on and who it is. */
  heartbeat: (request: HeartbeatRequest, peer: string, transport: ConnectedWorker, identity: string | null) => Promise<HeartbeatResponse>;
  /** Records the stream's reports, which apply only to attempts sent to its worker. */
  reports: (request: UpdateTaskStatusBatchRequest, workerId: number) => Promise<UpdateTaskStatusBatchResponse>;
  /** The stream of worker `workerId` ended (it stays registered until it reconnects, leaves or is evicted). */
  disconnected: (workerId: number, transport: ConnectedWorker) => void;
}

/**
 * Serves Connect: one stream per worker that dials out (the SDK), carrying its heartbeats and reports to
 * the coordinator and tasks to the worker. The first message must be a heartbeat with slots; a refused
 * heartbeat or report ends the stream with its status (INVALID_ARGUMENT naming the field), as the unary
 * call would have been answered.
 */
export function connectHandler(deps: ConnectDeps): StreamHandler<WorkerMessage, Partial<CoordinatorMessage>> {
  const open = new Set<ConnectCall>();
  const handle = (call: ConnectCall) => {
    open.add(call);
    const transport = new ConnectedWorker(call);
    const peer = call.getPeer();
    let workerId = 0;
    let failed = false;
    const fail = (error: Partial<grpc.StatusObject>) => {
      if (failed) return;
      failed = true;
      transport.disconnected();
      call.emit('error', error);
    };
    let identity: string | null = null;
    // Set when the caller is refused: no message of the stream is looked at, while the refusal is answered.
    let refused = false;
    try {
      identity = deps.identify(call);
    } catch (err) {
      refused = true;
      void answer(deps.logger, 'Connect', () => Promise.reject(err)).then((outcome) => outcome.error && fail(outcome.error));
    }
    const reply = (message: Partial<CoordinatorMessage>) => {
      if (!failed && !call.cancelled && call.writable) call.write(message);
    };
    call.on('data', (message: WorkerMessage) => {
      if (failed || refused) return;
      try {
        checkDecoded(message, 'Connect');
      } catch (err) {
        void answer(deps.logger, 'Connect', () => Promise.reject(err)).then((outcome) => outcome.error && fail(outcome.error));
        return;
      }
      // Nothing but a heartbeat may come first: an `accepted` answers tasks, and none are sent before one.
      if (workerId === 0 && message.body !== 'heartbeat') {
        fail({ code: grpc.status.INVALID_ARGUMENT, details: 'heartbeat: the first message on Connect must be a heartbeat' });
        return;
      }
      if (message.body === 'accepted' && message.accepted) {
        transport.accepted(message.seq, message.accepted.results);
        return;
      }
      if (message.body === 'heartbeat' && message.heartbeat) {
        const request = message.heartbeat;
        void answer(deps.logger, 'Connect.heartbeat', async () => {
          if (request.slots_total < 1) throw new ValidationError('slots_total must be at least 1 on Connect', 'slots_total');
          if (workerId !== 0 && request.workerId !== workerId) {
            throw new ValidationError('workerId cannot change on an open Connect stream', 'workerId');
          }
          workerId = request.workerId;
          return deps.heartbeat(request, peer, transport, identity);
        }).then((outcome) => (outcome.error ? fail(outcome.error) : reply({ seq: message.seq, heartbeat: outcome.response })));
        return;
      }
      if (message.body === 'reports' && message.reports) {
        const reports = message.reports;
        void answer(deps.logger, 'Connect.reports', () => deps.reports(reports, workerId))
          .then((outcome) => (outcome.error ? fail(outcome.error) : reply({ seq: message.seq, reports: outcome.response })));
        return;
      }
      fail({ code: grpc.status.INVALID_ARGUMENT, details: 'body: a WorkerMessage needs heartbeat, reports or accepted' });
    });
    const gone = () => {
      if (!open.delete(call)) return;
      transport.disconnected();
      if (workerId !== 0) deps.disconnected(workerId, transport);
    };
    call.on('end', () => {
      gone();
      if (!failed && !call.cancelled) call.end();
    });
    call.on('cancelled', gone);
    call.on('error', gone);
    call.on('close', gone);
  };
  return Object.assign(handle, {
    endAll: async () => {
      for (const call of [...open]) {
        open.delete(call);
        call.end();
      }
    },
  });
}
