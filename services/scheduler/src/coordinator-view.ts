import { callUnary, createCoordinatorClient, type WorkerInfo } from '../../common/src/grpc/contract';

export interface CoordinatorView {
  /** The coordinator's registry, or null when it cannot be reached. */
  listWorkers(): Promise<WorkerInfo[] | null>;
  close(): void;
}

/** The scheduler's window on the coordinator's worker registry (ListWorkers), with a short deadline. */
export function coordinatorView(address: string, timeoutMs = 2000): CoordinatorView {
  const client = createCoordinatorClient(address);
  return {
    async listWorkers() {
      try {
        const response = await callUnary(client, client.ListWorkers, {}, timeoutMs);
        return response.workers;
      } catch {
        return null;
      }
    },
    close: () => client.close(),
  };
}
