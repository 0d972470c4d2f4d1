import * as grpc from '@grpc/grpc-js';
import { callUnary, observeClientCall, type Bidi, type Unary } from './contract';

interface Waiting<Res> {
  resolve: (response: Res) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  observe: (code: grpc.status) => void;
}

function streamError(code: grpc.status, details: string): grpc.ServiceError {
  return Object.assign(new Error(`${code} ${grpc.status[code]}: ${details}`), { code, details, metadata: new grpc.Metadata() });
}

/**
 * Request/response calls carried by one long-lived bidirectional stream (StreamTasks, StreamTaskStatuses):
 * the peer answers each request message with one response message, in order, so the n-th response settles
 * the n-th request still waiting. At 200 calls/s on this machine a unary call costs 1.7-1.9 ms of the
 * caller's CPU and 1.1-1.2 ms of the callee's, a stream message about half (`npm run bench -- --probes`,
 * docs/performance.md), and a task makes two such calls on its way through.
 *
 * The stream opens on the first call and again on the first call after it broke. When it breaks (the peer
 * went away, ended it, or refused a request with an error status), every request still waiting fails with
 * that status, as their unary calls would have: the caller cannot know whether the peer acted on them, and
 * retries or hands back as it does for a failed unary call. A request not answered within its timeout
 * breaks the stream the same way (DEADLINE_EXCEEDED), since the answers behind it would be misattributed.
 * A peer that does not know the stream method (UNIMPLEMENTED: an older build) acted on nothing: those
 * requests, and every later one, go as unary calls instead.
 *
 * Each request is counted and timed like a unary call (observeClientCall), under the stream method's name.
 */
export class RequestStream<Req, Res> {
  private stream: grpc.ClientDuplexStream<Partial<Req>, Res> | undefined;
  private waiting: Waiting<Res>[] = [];
  private unary = false;

  constructor(
    private readonly client: grpc.Client,
    private readonly method: { name: string; stream: Bidi<Req, Res>; unary: Unary<Req, Res> },
  ) {}

  call(request: Partial<Req>, timeoutMs: number): Promise<Res> {
    if (this.unary) return callUnary(this.client, this.method.unary, request, timeoutMs);
    const stream = this.stream ?? this.open();
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => this.break(stream, streamError(grpc.status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
      const waiting: Waiting<Res> = { resolve, reject, timer, observe: observeClientCall(this.method.name) };
      this.waiting.push(waiting);
      stream.write(request);
    }).catch((err: grpc.ServiceError) => {
      if (err.code !== grpc.status.UNIMPLEMENTED) throw err;
      return callUnary(this.client, this.method.unary, request, timeoutMs);
    });
  }

  /** Ends the stream; requests still waiting fail with CANCELLED. */
  close(): void {
    if (this.stream) this.break(this.stream, streamError(grpc.status.CANCELLED, 'stream closed'));
  }

  private open(): grpc.ClientDuplexStream<Partial<Req>, Res> {
    const stream = this.method.stream.call(this.client);
    stream.on('data', (response: Res) => {
      if (this.stream !== stream) return;
      const waiting = this.waiting.shift();
      if (!waiting) return;
      this.settle(waiting, grpc.status.OK);
      waiting.resolve(response);
    });
    stream.on('error', (err: grpc.ServiceError) => this.break(stream, err));
    // An OK status ends the stream: the peer is shutting down.
    stream.on('end', () => this.break(stream, streamError(grpc.status.UNAVAILABLE, 'the peer ended the stream')));
    this.stream = stream;
    return stream;
  }

  private break(stream: grpc.ClientDuplexStream<Partial<Req>, Res>, err: grpc.ServiceError): void {
    if (this.stream !== stream) return;
    this.stream = undefined;
    stream.cancel();
    if (err.code === grpc.status.UNIMPLEMENTED) this.unary = true;
    const failed = this.waiting;
    this.waiting = [];
    for (const waiting of failed) {
      this.settle(waiting, err.code);
      waiting.reject(err);
    }
  }

  private settle(waiting: Waiting<Res>, code: grpc.status): void {
    clearTimeout(waiting.timer);
    waiting.observe(code);
  }
}
