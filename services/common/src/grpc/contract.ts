import * as grpc from '@grpc/grpc-js';
import { findProto, grpcApi as loadGrpcApi } from '../../../sdk/src/worker/proto';
import { grpcClientDuration, grpcClientRequests } from '../metrics';
// The keepalive settings and the unary call helper have their one home in the SDK, which every client shares.
import { CHANNEL_OPTIONS } from '../../../sdk/src/grpc/channel-options';
import { channelSecurity, type TlsFiles } from '../../../sdk/src/grpc/tls';
import { callUnary as sdkCallUnary, type Bidi, type Unary } from '../../../sdk/src/grpc/unary';

/**
 * proto/taskmaster.proto, loaded at run time, and TypeScript shapes of its messages as proto-loader delivers
 * them (keepCase, enums as strings, int64 as numbers, defaults filled in).
 */

/*
 * The messages as proto-loader delivers them (keepCase, enums as strings, int64 as numbers, defaults filled
 * in): the `__Output` types generated from the proto by `npm run generate` (proto-loader-gen-types, into
 * services/sdk/src/generated, not committed).
 */
import type { TaskRequest__Output } from '../../../sdk/src/generated/grpcapi/TaskRequest';
export type TaskRequest = TaskRequest__Output;
import type { TaskResponse__Output } from '../../../sdk/src/generated/grpcapi/TaskResponse';
export type TaskResponse = TaskResponse__Output;
import type { TaskBatchRequest__Output } from '../../../sdk/src/generated/grpcapi/TaskBatchRequest';
export type TaskBatchRequest = TaskBatchRequest__Output;
import type { TaskBatchResponse__Output } from '../../../sdk/src/generated/grpcapi/TaskBatchResponse';
export type TaskBatchResponse = TaskBatchResponse__Output;
import type { ClientTaskRequest__Output } from '../../../sdk/src/generated/grpcapi/ClientTaskRequest';
export type ClientTaskRequest = ClientTaskRequest__Output;
import type { ClientTaskResponse__Output } from '../../../sdk/src/generated/grpcapi/ClientTaskResponse';
export type ClientTaskResponse = ClientTaskResponse__Output;
import type { HeartbeatRequest__Output } from '../../../sdk/src/generated/grpcapi/HeartbeatRequest';
export type HeartbeatRequest = HeartbeatRequest__Output;
import type { HeartbeatResponse__Output } from '../../../sdk/src/generated/grpcapi/HeartbeatResponse';
export type HeartbeatResponse = HeartbeatResponse__Output;
import type { HeldTask__Output } from '../../../sdk/src/generated/grpcapi/HeldTask';
export type HeldTask = HeldTask__Output;
import type { ScheduleDeclaration__Output } from '../../../sdk/src/generated/grpcapi/ScheduleDeclaration';
export type ScheduleDeclaration = ScheduleDeclaration__Output;
import type { ConcurrencyDeclaration__Output } from '../../../sdk/src/generated/grpcapi/ConcurrencyDeclaration';
export type ConcurrencyDeclaration = ConcurrencyDeclaration__Output;
import type { UpdateTaskStatusRequest__Output } from '../../../sdk/src/generated/grpcapi/UpdateTaskStatusRequest';
export type UpdateTaskStatusRequest = UpdateTaskStatusRequest__Output;
import type { UpdateTaskStatusResponse__Output } from '../../../sdk/src/generated/grpcapi/UpdateTaskStatusResponse';
export type UpdateTaskStatusResponse = UpdateTaskStatusResponse__Output;
import type { UpdateTaskStatusBatchRequest__Output } from '../../../sdk/src/generated/grpcapi/UpdateTaskStatusBatchRequest';
export type UpdateTaskStatusBatchRequest = UpdateTaskStatusBatchRequest__Output;
import type { UpdateTaskStatusBatchResponse__Output } from '../../../sdk/src/generated/grpcapi/UpdateTaskStatusBatchResponse';
export type UpdateTaskStatusBatchResponse = UpdateTaskStatusBatchResponse__Output;
import type { WorkerInfo__Output } from '../../../sdk/src/generated/grpcapi/WorkerInfo';
export type WorkerInfo = WorkerInfo__Output;
import type { ListWorkersResponse__Output } from '../../../sdk/src/generated/grpcapi/ListWorkersResponse';
export type ListWorkersResponse = ListWorkersResponse__Output;
import type { WorkerMessage__Output } from '../../../sdk/src/generated/grpcapi/WorkerMessage';
export type WorkerMessage = WorkerMessage__Output;
import type { CoordinatorMessage__Output } from '../../../sdk/src/generated/grpcapi/CoordinatorMessage';
export type CoordinatorMessage = CoordinatorMessage__Output;
import type { TaskStatus__Output } from '../../../sdk/src/generated/grpcapi/TaskStatus';
export type TaskStatus = TaskStatus__Output;

export type { Bidi, Unary } from '../../../sdk/src/grpc/unary';

export interface WorkerServiceClient extends grpc.Client {
  SubmitTask: Unary<TaskRequest, TaskResponse>;
  SubmitTasks: Unary<TaskBatchRequest, TaskBatchResponse>;
  StreamTasks: Bidi<TaskBatchRequest, TaskBatchResponse>;
}

export interface CoordinatorServiceClient extends grpc.Client {
  SubmitTask: Unary<ClientTaskRequest, ClientTaskResponse>;
  SendHeartbeat: Unary<HeartbeatRequest, HeartbeatResponse>;
  UpdateTaskStatus: Unary<UpdateTaskStatusRequest, UpdateTaskStatusResponse>;
  UpdateTaskStatuses: Unary<UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse>;
  StreamTaskStatuses: Bidi<UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse>;
  ListWorkers: Unary<Record<string, never>, ListWorkersResponse>;
}

interface LoadedPackage {
  WorkerService: grpc.ServiceClientConstructor;
  CoordinatorService: grpc.ServiceClientConstructor;
}

/** Where proto/taskmaster.proto is: found the way the SDK finds it. */
export const protoPath = (): string => findProto();

/** The `grpcapi` package, loaded once per process by the SDK's loader (one set of loader options). */
export function grpcApi(): LoadedPackage {
  return loadGrpcApi().grpcapi as unknown as LoadedPackage;
}

export function createWorkerClient(address: string): WorkerServiceClient {
  const Client = grpcApi().WorkerService;
  return new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as WorkerServiceClient;
}

/** How a service dials the coordinator: mutual TLS with its certificate, and a bearer token for SubmitTask and ListWorkers. */
export interface CoordinatorCredentials {
  tls?: TlsFiles;
  /** Sent as `authorization: Bearer <token>` metadata on every call (caller-access.ts). */
  token?: string;
}

export function createCoordinatorClient(address: string, security: CoordinatorCredentials = {}): CoordinatorServiceClient {
  const Client = grpcApi().CoordinatorService;
  const { credentials, options } = channelSecurity(security.tls, CHANNEL_OPTIONS);
  const withToken = security.token === undefined ? options : { ...options, interceptors: [bearerToken(security.token)] };
  return new Client(address, credentials, withToken) as unknown as CoordinatorServiceClient;
}

/**
 * Adds the token to every call's metadata. An interceptor rather than call credentials: grpc-js sends call
 * credentials only over TLS, and a token is what a plaintext port asks for.
 */
function bearerToken(token: string): grpc.Interceptor {
  return (options, nextCall) => new grpc.InterceptingCall(nextCall(options), {
    start(metadata, listener, next) {
      metadata.set('authorization', `Bearer ${token}`);
      next(metadata, listener);
    },
  });
}

/**
 * Starts timing one call of `method` made to another service; the function it returns records how the call
 * ended. The one place gRPC client metrics are taken: callUnary and RequestStream both use it.
 */
export function observeClientCall(method: string): (code: grpc.status) => void {
  const endTimer = grpcClientDuration.startTimer({ method });
  return (code) => {
    const label = grpc.status[code] ?? 'UNKNOWN';
    endTimer({ code: label });
    grpcClientRequests.inc({ method, code: label });
  };
}

/** Calls a unary method as a promise, with a deadline, observed by observeClientCall. */
export function callUnary<Req, Res>(
  client: grpc.Client,
  method: Unary<Req, Res>,
  request: Partial<Req>,
  timeoutMs: number,
): Promise<Res> {
  return sdkCallUnary(client, method, request, timeoutMs, observeClientCall);
}
