import * as grpc from '@grpc/grpc-js';
import { HealthImplementation, protoPath as healthProtoPath } from 'grpc-health-check';
import * as protoLoader from '@grpc/proto-loader';
import {
  ConflictError, ForbiddenError, NotFoundError, StaleAttemptError, TaskMasterError, UnavailableError, ValidationError,
} from '../errors';
import type { Logger } from '../logger';
import { grpcServerDuration, grpcServerRequests } from '../metrics';

/** Maps our errors to gRPC status codes: the one place this happens for gRPC (DESIGN.md §3). */
export function grpcStatusFor(err: unknown): grpc.status {
  if (err instanceof ValidationError) return grpc.status.INVALID_ARGUMENT;
  if (err instanceof NotFoundError) return grpc.status.NOT_FOUND;
  if (err instanceof ForbiddenError) return grpc.status.PERMISSION_DENIED;
  if (err instanceof ConflictError || err instanceof StaleAttemptError) return grpc.status.FAILED_PRECONDITION;
  if (err instanceof UnavailableError) return grpc.status.UNAVAILABLE;
  return grpc.status.INTERNAL;
}

/**
 * Wraps an async handler as a grpc-js unary handler. Known errors become their status code with their
 * message; anything else is logged once and answered INTERNAL without internals. Every call is counted by
 * method and code, and timed (the one place gRPC server metrics are taken).
 */
export function unary<Req, Res>(
  logger: Logger,
  method: string,
  handler: (request: Req, call: grpc.ServerUnaryCall<Req, Res>) => Promise<Res>,
): grpc.handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const endTimer = grpcServerDuration.startTimer({ method });
    const observe = (code: grpc.status) => {
      endTimer({ code: grpc.status[code] });
      grpcServerRequests.inc({ method, code: grpc.status[code] });
    };
    handler(call.request, call).then(
      (response) => {
        observe(grpc.status.OK);
        callback(null, response);
      },
      (err: unknown) => {
        const code = grpcStatusFor(err);
        observe(code);
        if (code === grpc.status.INTERNAL) {
          logger.error({ err, method }, 'gRPC handler failed');
          callback({ code, details: 'internal error' });
        } else {
          logger.info({ method, code: grpc.status[code], reason: (err as TaskMasterError).message }, 'gRPC request refused');
          callback({ code, details: (err as Error).message });
        }
      },
    );
  };
}

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
}): Promise<GrpcServer> {
  const server = new grpc.Server({ 'grpc.keepalive_permit_without_calls': 1, 'grpc.max_receive_message_length': 64 * 1024 * 1024 });
  server.addService(options.service, options.implementation);
  const health = new HealthImplementation({ '': 'SERVING', [options.serviceName]: 'SERVING' });
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) => {
    server.bindAsync(`${options.host}:${options.port}`, grpc.ServerCredentials.createInsecure(), (err, bound) =>
      err ? reject(new Error(`cannot listen on ${options.host}:${options.port}: ${err.message}`)) : resolve(bound),
    );
  });
  return {
    server,
    health,
    port,
    async shutdown(graceMs = 5000) {
      health.setStatus('', 'NOT_SERVING');
      health.setStatus(options.serviceName, 'NOT_SERVING');
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
