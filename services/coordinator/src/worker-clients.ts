import { createWorkerClient, type WorkerServiceClient } from '../../common/src/grpc/contract';

/** One gRPC channel per worker address, reused across dispatches and closed when the worker goes. */
export class WorkerClients {
  private readonly clients = new Map<string, WorkerServiceClient>();

  get(address: string): WorkerServiceClient {
    let client = this.clients.get(address);
    if (!client) {
      client = createWorkerClient(address);
      this.clients.set(address, client);
    }
    return client;
  }

  close(address: string): void {
    this.clients.get(address)?.close();
    this.clients.delete(address);
  }

  closeAll(): void {
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}
