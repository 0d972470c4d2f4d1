import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import * as protoLoader from '@grpc/proto-loader';
import {
  ConflictError, ForbiddenError, NotFoundError, StaleAttemptError, TaskMasterError, UnauthenticatedError, UnavailableError, ValidationError,
} from '../errors';
import type { Logger } from '../logger';
import { grpcServerDuration, grpcServerRequests } from '../metrics';

/** Maps our errors to gRPC status codes: the one place this happens for gRPC (DESIGN.md §3). */
export function grpcStatusFor(err: unknown): grpc.status {
  if (err instanceof ValidationError) return grpc.status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (err instanceof ForbiddenError) return grpc.status.PERMISSION_DENIED;
  if (err instanceof UnauthenticatedError) return grpc.status.UNAUTHENTICATED;
  if (err instanceof ConflictError || err instanceof StaleAttemptError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof UnavailableError) return grpc.status.UNAVAILABLE;
  return grpc.status.INTERNAL;
}

/**
 * Runs one request through its handler. Known errors become their status code with their message; anything
 * else is logged once and answered INTERNAL without internals. Every request is counted by method and code,
 * and timed (the one place gRPC server metrics are taken).
 */
export async function answer<Res>(
  logger: Logger,
  method: string,
  run: () => Promise<Res>,
): Promise<{ response: Res; error?: undefined } | { error: Partial<grpc.StatusObject> }> {
  const endTimer = grpcServerDuration.startTimer({ method });
  const observe = (code: grpc.status) => {
    endTimer({ code: grpc.status[code] });
    grpcServerRequests.inc({ method, code: grpc.status[code] });
  };
  try {
    const response = await run();
    observe(grpc.status.OK);
    return { response };
  } catch (err) {
    const code = grpcStatusFor(err);
    observe(code);
    if (code === grpc.status.INTERNAL) {
      logger.error({ err, method }, 'gRPC handler failed');
      return { error: { code, details: 'internal error' } };
    }
    logger.info({ method, code: grpc.status[code], reason: (err as TaskMasterError).message }, 'gRPC request refused');
    return { error: { code, details: (err as Error).message } };
  }
}

/**
 * A request grpc-js could not decode (bytes that are no protobuf message of the method's type). grpc-js would
 * answer it INTERNAL before any handler ran; kept as this marker instead, it is answered INVALID_ARGUMENT like
 * any other bad input, and counted in the metrics as such.
 */
class UndecodableRequest {
  constructor(readonly reason: string) {}
}

/** Throws the INVALID_ARGUMENT an undecodable request gets; does nothing for a decoded one. */
export function checkDecoded(request: unknown, method: string): void {
  if (request instanceof UndecodableRequest) throw new ValidationError(`the request is not a valid ${method} message: ${request.reason}`);
}

/** The service with each method's request decoder returning an UndecodableRequest instead of throwing. */
function tolerantDecoders(service: grpc.ServiceDefinition): grpc.ServiceDefinition {
  return Object.fromEntries(Object.entries(service).map(([name, method]) => [name, {
    ...method,
    requestDeserialize: (bytes: Buffer) => {
      try {
        return method.requestDeserialize(bytes);
      } catch (err) {
        return new UndecodableRequest((err as Error).message);
      }
    },
  }]));
}

/** Wraps an async handler as a grpc-js unary handler (answer() above). */
export function unary<Req, Res>(
  logger: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    void answer(logger, method, async () => {
      checkDecoded(call.request, method);
      return handler(call.request, call);
    }).then((outcome) =>
      outcome.error ? callback(outcome.error) : callback(null, outcome.response));
  };
}

/** A bidirectional stream handler that can end its open streams (server shutdown). */
export interface StreamHandler<Req, Res> extends grpc.handleBidiStreamingCall<Req, Res> {
  endAll(): Promise<void>;
}

/**
 * Serves a unary-style method over a long-lived bidirectional stream (RequestStream is the client): each
 * request message is handled as if it were a unary call to `handler` and answered by one response message,
 * in the order the requests came, one at a time. A request the handler refuses ends the stream with that
 * status, as the unary call would have ended; the client fails what it was waiting for and opens a new
 * stream for its next request. On shutdown, endAll() ends every open stream once its answers are written,
 * so the server can stop without cutting a stream off mid-request.
 */
export function requestStream<Req, Res>(
  logger: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerDuplexStream<Req, Res>) => Promise<Res>,
): StreamHandler<Req, Res> {
  const open = new Map<grpc.ServerDuplexStream<Req, Res>, () => Promise<void>>();
  const handle = (call: grpc.ServerDuplexStream<Req, Res>) => {
    let answered = Promise.resolve();
    // Set once the stream failed, was cancelled or is ending: later requests go unanswered, and the client
    // fails them when it sees the stream end.
    let closed = false;
    const end = () => answered.then(() => {
      open.delete(call);
      if (closed || call.cancelled) return;
      closed = true;
      call.end();
    });
    open.set(call, end);
    call.on('data', (request: Req) => {
      answered = answered.then(async () => {
        if (closed || call.cancelled) return;
        const outcome = await answer(logger, method, async () => {
          checkDecoded(request, method);
          return handler(request, call);
        });
        if (outcome.error) {
          closed = true;
          call.emit('error', outcome.error);
        } else {
          call.write(outcome.response);
        }
      });
    });
    call.on('end', () => void end());
    call.on('cancelled', () => open.delete(call));
    call.on('error', () => open.delete(call));
  };
  return Object.assign(handle, {
    endAll: async () => {
      await Promise.all([...open.values()].map((end) => end()));
    },
  });
}

/** gRPC's own default: a status batch larger than this is split by the SDK's reporter. */
export const DEFAULT_MAX_MESSAGE_BYTES = 4 * 1024 * 1024;

export interface GrpcServer {
  readonly server: grpc.Server;
  readonly health: HealthImplementation;
  readonly port: number;
  /** Marks the service NOT_SERVING (so probes and peers stop sending), then stops accepting calls. */
  shutdown(graceMs?: number): Promise<void>;
}

/**
 * Starts a gRPC server on host:port with the given service and the standard grpc.health.v1 service, reporting
 * SERVING for "" and for `serviceName`. Port 0 picks a free port; the bound one is returned.
 */
export async function startGrpcServer(options: {
  host: string;
  port: number;
  service: grpc.ServiceDefinition;
  implementation: grpc.UntypedServiceImplementation;
  serviceName: string;
  /** Plaintext when not given. */
  credentials?: grpc.ServerCredentials;
  /** The largest message accepted; a larger one fails its call with RESOURCE_EXHAUSTED. @defaultValue 4 MiB */
  maxMessageBytes?: number;
}): Promise<GrpcServer> {
  const server = new grpc.Server({
    'grpc.keepalive_permit_without_calls': 1,
    'grpc.max_receive_message_length': options.maxMessageBytes ?? DEFAULT_MAX_MESSAGE_BYTES,
  });
  server.addService(tolerantDecoders(options.service), options.implementation);
  const health = new HealthImplementation({ '': 'SERVING', [options.serviceName]: 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, options.credentials ?? grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`cannot listen on ${options.host}:${options.port}: ${err.message}`)) : resolve(bound),
    );
  });
  const streams = Object.values(options.implementation)
    .filter((handler): handler is StreamHandler<unknown, unknown> => typeof (handler as Partial<StreamHandler<unknown, unknown>>).endAll === 'function');
  return {
    server,
    health,
    port,
    async shutdown(graceMs = 5000) {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(options.serviceName, 'NOT_SERVING');
      // tryShutdown waits for every call to end, and a client's stream would otherwise stay open until the grace ran out.
      await Promise.all(streams.map((handler) => handler.endAll()));
      await new Promise<void>((resolve) => {
        const force = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, graceMs);
        server.tryShutdown(() => {
          clearTimeout(force);
          resolve();
        });
      });
    },
  };
}

/** A client for grpc.health.v1, for tests and readiness checks. */
export function createHealthClient(address: string): grpc.Client & {
  Check: (req: { service: string }, cb: (err: grpc.ServiceError | null, res?: { status: string }) => void) => void;
} {
  const definition = protoLoader.loadSync(healthProtoPath, { keepCase: true, enums: String, defaults: true });
  const pkg = grpc.loadPackageDefinition(definition) as unknown as {
    grpc: { health: { v1: { Health: grpc.ServiceClientConstructor } } };
  };
  const Client = pkg.grpc.health.v1.Health;
  return new Client(address, grpc.credentials.createInsecure()) as never;
}
