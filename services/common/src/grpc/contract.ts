import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { grpcClientDuration, grpcClientRequests } from '../metrics';
import { repoRoot } from '../paths';

/**
 * proto/taskmaster.proto, loaded at run time, and TypeScript shapes of its messages as proto-loader delivers
 * them (keepCase, enums as strings, int64 as numbers, defaults filled in).
 */

export type TaskStatus = 'QUEUED' | 'STARTED' | 'COMPLETE' | 'FAILED';

export interface TaskRequest {
  task_id: string;
  data: string;
  attempt: number;
  scheduled_at_ms: number;
  /** Hold the task this long after receipt before starting it; 0 = start now. */
  start_after_ms: number;
}
export interface TaskResponse {
  task_id: string;
  message: string;
  success: boolean;
}
export interface TaskBatchRequest {
  tasks: TaskRequest[];
}
export interface TaskBatchResponse {
  results: TaskResponse[];
}
export interface ClientTaskRequest {
  data: string;
  scheduled_at: number;
}
export interface ClientTaskResponse {
  message: string;
  task_id: string;
}
export interface HeartbeatRequest {
  workerId: number;
  address: string;
  slots_total: number;
  slots_free: number;
  name: string;
  draining: boolean;
  leaving: boolean;
  /** The worker honours TaskRequest.start_after_ms. */
  delayed_start: boolean;
}
export interface HeartbeatResponse {
  acknowledged: boolean;
}
export interface UpdateTaskStatusRequest {
  task_id: string;
  status: TaskStatus;
  started_at: number;
  completed_at: number;
  failed_at: number;
  worker_id: number;
  attempt: number;
  error: string;
  result: string;
  at_ms: number;
  /** With COMPLETE/FAILED: the start time when no STARTED was sent; 0 otherwise. */
  started_at_ms: number;
}
export interface UpdateTaskStatusResponse {
  success: boolean;
  message: string;
}
export interface UpdateTaskStatusBatchRequest {
  updates: UpdateTaskStatusRequest[];
}
export interface UpdateTaskStatusBatchResponse {
  results: UpdateTaskStatusResponse[];
}
export interface WorkerInfo {
  workerId: number;
  address: string;
  name: string;
  slots_total: number;
  slots_busy: number;
  heartbeat_misses: number;
  last_heartbeat_ms: number;
  draining: boolean;
  in_flight: number;
}
export interface ListWorkersResponse {
  workers: WorkerInfo[];
}

export type Unary<Req, Res> = (
  request: Partial<Req>,
  options: { deadline?: grpc.Deadline },
  callback: (err: grpc.ServiceError | null, response?: Res) => void,
) => grpc.ClientUnaryCall;

export type Bidi<Req, Res> = () => grpc.ClientDuplexStream<Partial<Req>, Res>;

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

let loaded: LoadedPackage | undefined;

export function protoPath(): string {
  return join(repoRoot(), 'proto', 'taskmaster.proto');
}

/** The `grpcapi` package, loaded once per process. */
export function grpcApi(): LoadedPackage {
  if (!loaded) {
    const definition = protoLoader.loadSync(protoPath(), {
      keepCase: true,
      longs: Number,
      enums: String,
      defaults: true,
      oneofs: true,
    });
    loaded = (grpc.loadPackageDefinition(definition) as unknown as { grpcapi: LoadedPackage }).grpcapi;
  }
  return loaded;
}

// Keep connections to peers alive across idle periods, and notice a dead peer within seconds.
const CHANNEL_OPTIONS: grpc.ChannelOptions = {
  'grpc.keepalive_time_ms': 10_000,
  'grpc.keepalive_timeout_ms': 5_000,
  'grpc.keepalive_permit_without_calls': 1,
};

export function createWorkerClient(address: string): WorkerServiceClient {
  const Client = grpcApi().WorkerService;
  return new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as WorkerServiceClient;
}

export function createCoordinatorClient(address: string): CoordinatorServiceClient {
  const Client = grpcApi().CoordinatorService;
  return new Client(address, grpc.credentials.createInsecure(), CHANNEL_OPTIONS) as unknown as CoordinatorServiceClient;
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
  const observe = observeClientCall(methodName(client, method));
  return new Promise((resolve, reject) => {
    method.call(client, request, { deadline: Date.now() + timeoutMs }, (err, response) => {
      observe(err ? err.code : grpc.status.OK);
      if (err) reject(err);
      else resolve(response as Res);
    });
  });
}

const methodNames = new WeakMap<object, string>();

/**
 * The proto name of a client method ("SubmitTasks"), found once per method on the client's service
 * definition: grpc-js method functions carry no name of their own.
 */
function methodName(client: grpc.Client, method: object): string {
  let name = methodNames.get(method);
  if (name === undefined) {
    const service = (client.constructor as grpc.ServiceClientConstructor).service ?? {};
    name = Object.keys(service).find((key) => (client as unknown as Record<string, unknown>)[key] === method) ?? 'unknown';
    methodNames.set(method, name);
  }
  return name;
}
