import { grpcApi, type TaskBatchRequest, type TaskBatchResponse } from '../services/common/src/grpc/contract';
import { requestStream, startGrpcServer, unary } from '../services/common/src/grpc/server';
import { createLogger } from '../services/common/src/logger';

/*
 * The callee of the gRPC probe (probes.ts), forked so that its CPU is its own: a WorkerService that accepts
 * every task, on both SubmitTasks and StreamTasks, through the services' own server wrappers. It sends its
 * port when listening, and its CPU time in ms whenever the parent sends anything.
 */
async function main(): Promise<void> {
  const logger = createLogger('probe-server', 'silent');
  const accept = async (request: TaskBatchRequest): Promise<TaskBatchResponse> => ({
    results: request.tasks.map((task) => ({ task_id: task.task_id, success: true, message: 'accepted' })),
  });
  const server = await startGrpcServer({
    host: '127.0.0.1',
    port: 0,
    service: grpcApi().WorkerService.service,
    serviceName: 'grpcapi.WorkerService',
    implementation: { SubmitTasks: unary(logger, 'SubmitTasks', accept), StreamTasks: requestStream(logger, 'StreamTasks', accept) },
  });
  process.on('message', () => {
    const { user, system } = process.cpuUsage();
    process.send!({ cpuMs: (user + system) / 1000 });
  });
  process.send!({ port: server.port });
}

void main();
