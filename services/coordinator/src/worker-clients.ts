import {
  callUnary, createWorkerClient, type TaskBatchRequest, type TaskBatchResponse, type TaskRequest, type TaskResponse,
  type WorkerServiceClient,
} from '../../common/src/grpc/contract';
import { RequestStream } from '../../common/src/grpc/request-stream';
import type { WorkerTransport } from './registry';

/** How the coordinator reaches one worker it dials: its channel, and the stream that carries task batches on it. */
interface Channel {
  client: WorkerServiceClient;
  tasks: RequestStream<TaskBatchRequest, TaskBatchResponse>;
}

/** One gRPC channel per worker address, reused across dispatches and closed when the worker goes. */
export class WorkerClients {
  private readonly channels = new Map<string, Channel>();

  /**
   * The transport to a worker that serves WorkerService at `address`: original-contract workers get one
   * unary SubmitTask per task, ours one StreamTasks message per batch (SubmitTasks for older builds).
   */
  transport(address: string, legacy: boolean): WorkerTransport {
    return {
      kind: 'dialled',
      address,
      submit: (tasks, timeoutMs) => this.submit(address, legacy, tasks, timeoutMs),
      close: () => this.close(address),
    };
  }

  private async submit(address: string, legacy: boolean, tasks: TaskRequest[], timeoutMs: number): Promise<TaskResponse[]> {
    const { client, tasks: stream } = this.get(address);
    if (legacy) return Promise.all(tasks.map((task) => callUnary(client, client.SubmitTask, task, timeoutMs)));
    return (await stream.call({ tasks }, timeoutMs)).results;
  }

  private get(address: string): Channel {
    let channel = this.channels.get(address);
    if (!channel) {
      const client = createWorkerClient(address);
      const tasks = new RequestStream(client, { name: 'StreamTasks', stream: client.StreamTasks, unary: client.SubmitTasks });
      channel = { client, tasks };
      this.channels.set(address, channel);
    }
    return channel;
  }

  close(address: string): void {
    const channel = this.channels.get(address);
    this.channels.delete(address);
    channel?.tasks.close();
    channel?.client.close();
  }

  closeAll(): void {
    for (const address of [...this.channels.keys()]) this.close(address);
  }
}
