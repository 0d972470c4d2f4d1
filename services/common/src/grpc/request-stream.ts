import type * as grpc from '@grpc/grpc-js';
import { RequestStream as SdkRequestStream, type SingleFallback } from '../../../sdk/src/grpc/request-stream';
import { observeClientCall, type Bidi, type Unary } from './contract';

export type { SingleFallback };

/**
 * The SDK's RequestStream (services/sdk/src/grpc/request-stream.ts, the one implementation: stream, then
 * batch, then single unary calls, remembered per peer) with this service's client metrics: each request is
 * counted and timed by observeClientCall.
 */
export class RequestStream<Req, Res, SingleReq = unknown, SingleRes = unknown> extends SdkRequestStream<Req, Res, SingleReq, SingleRes> {
  constructor(
    client: grpc.Client,
    method: { name: string; stream: Bidi<Req, Res>; unary: Unary<Req, Res>; single?: SingleFallback<Req, Res, SingleReq, SingleRes> },
  ) {
    super(client, method, observeClientCall);
  }
}
