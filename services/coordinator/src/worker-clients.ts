import { createWorkerClient, type TaskBatchRequest, type TaskBatchResponse, type WorkerServiceClient } from '../../common/src/grpc/contract';
import { RequestStream } from '../../common/src/grpc/request-stream';

/** How the coordinator reaches one worker: its channel, and the stream that carries task batches on it. */
export interface WorkerConnection {
  client: WorkerServiceClient;
  tasks: RequestStream<TaskBatchRequest, TaskBatchResponse>;
}

/** One gRPC channel per worker address, reused across dispatches and closed when the worker goes. */
export class WorkerClients {
  private readonly connections = new Map<string, WorkerConnection>();

  get(address: string): WorkerConnection {
    let connection = this.connections.get(address);
    if (!connection) {
      const client = createWorkerClient(address);
      const tasks = new RequestStream(client, { name: 'StreamTasks', stream: client.StreamTasks, unary: client.SubmitTasks });
      connection = { client, tasks };
      this.connections.set(address, connection);
    }
    return connection;
  }

  close(address: string): void {
    const connection = this.connections.get(address);
    this.connections.delete(address);
    connection?.tasks.close();
    connection?.client.close();
  }

  closeAll(): void {
    for (const address of [...this.connections.keys()]) this.close(address);
  }
}
