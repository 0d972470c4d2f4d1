import * as grpc from '@grpc/grpc-js';
import { callUnary, type Bidi, type CallObserver, type Unary } from './unary';

interface Waiting<Res> {
  resolve: (response: Res) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
  observe?: (code: grpc.status) => void;
}

/**
 * The last fallback of a RequestStream: the original contract's one-item unary method. `split` turns a batch
 * request into the one-item requests that stand for it, in the order they must reach the peer; `join` turns
 * their responses (in the same order) back into the batch response. `refused` turns an error that judged one
 * item alone (a bad or stale item) into that item's response; any other error fails the whole request.
 */
export interface SingleFallback<Req, Res, SingleReq, SingleRes> {
  method: Unary<SingleReq, SingleRes>;
  split(request: Partial<Req>): Partial<SingleReq>[];
  join(request: Partial<Req>, responses: SingleRes[]): Res;
  refused?(err: grpc.ServiceError): SingleRes | undefined;
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
 * requests, and every later one, go as unary calls of the batch method instead. A peer that does not know
 * the batch method either (an original-contract peer) gets, when a `single` fallback is given, each request
 * split into calls of the original one-item method, sent one after another in order, and their answers
 * joined into one response. Each step down is remembered for the life of this instance, that is per peer.
 *
 * Each request is seen by `observe` (optional: the services count and time their calls with it) as a unary
 * call would be, under the stream method's name; the fallbacks' calls under their own names.
 */
export class RequestStream<Req, Res, SingleReq = unknown, SingleRes = unknown> {
  private stream: grpc.ClientDuplexStream<Partial<Req>, Res> | undefined;
  private waiting: Waiting<Res>[] = [];
  private mode: 'stream' | 'batch' | 'single' = 'stream';

  constructor(
    private readonly client: grpc.Client,
    private readonly method: {
      name: string;
      stream: Bidi<Req, Res>;
      unary: Unary<Req, Res>;
      single?: SingleFallback<Req, Res, SingleReq, SingleRes>;
    },
    private readonly observe?: CallObserver,
  ) {}

  /** How requests travel now: 'stream', or the fallback the peer forced ('batch', then 'single'). */
  get transport(): 'stream' | 'batch' | 'single' {
    return this.mode;
  }

  call(request: Partial<Req>, timeoutMs: number): Promise<Res> {
    if (this.mode === 'single') return this.callSingle(request, timeoutMs);
    if (this.mode === 'batch') return this.callBatch(request, timeoutMs);
    const stream = this.stream ?? this.open();
    return new Promise<Res>((resolve, reject) => {
      const timer = setTimeout(() => this.break(stream, streamError(grpc.status.DEADLINE_EXCEEDED, `no answer within ${timeoutMs} ms`)), timeoutMs);
      const waiting: Waiting<Res> = { resolve, reject, timer, observe: this.observe?.(this.method.name) };
      this.waiting.push(waiting);
      stream.write(request);
    }).catch((err: grpc.ServiceError) => {
      if (err.code !== grpc.status.UNIMPLEMENTED) throw err;
      if (this.mode === 'stream') this.mode = 'batch';
      return this.call(request, timeoutMs);
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
    if (err.code === grpc.status.UNIMPLEMENTED && this.mode === 'stream') this.mode = 'batch';
    const failed = this.waiting;
    this.waiting = [];
    for (const waiting of failed) {
      this.settle(waiting, err.code);
      waiting.reject(err);
    }
  }

  private async callBatch(request: Partial<Req>, timeoutMs: number): Promise<Res> {
    try {
      return await callUnary(this.client, this.method.unary, request, timeoutMs, this.observe);
    } catch (err) {
      if ((err as grpc.ServiceError).code !== grpc.status.UNIMPLEMENTED || !this.method.single) throw err;
      this.mode = 'single';
      return this.callSingle(request, timeoutMs);
    }
  }

  /**
   * One call per item, in order, each with the full timeout. A failure that is not an item's refusal fails the
   * whole request, so the caller sends every item again, those already answered included: at-least-once.
   */
  private async callSingle(request: Partial<Req>, timeoutMs: number): Promise<Res> {
    const single = this.method.single!;
    const responses: SingleRes[] = [];
    for (const item of single.split(request)) {
      try {
        responses.push(await callUnary(this.client, single.method, item, timeoutMs, this.observe));
      } catch (err) {
        const refusal = single.refused?.(err as grpc.ServiceError);
        if (refusal === undefined) throw err;
        responses.push(refusal);
      }
    }
    return single.join(request, responses);
  }

  private settle(waiting: Waiting<Res>, code: grpc.status): void {
    clearTimeout(waiting.timer);
    waiting.observe?.(code);
  }
}
