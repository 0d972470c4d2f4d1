import { callUnary, createCoordinatorClient, type WorkerInfo } from '../../common/src/grpc/contract';

export interface CoordinatorView {
  /** The coordinator's registry, or null when it cannot be reached. */
  listWorkers(): Promise<WorkerInfo[] | null>;
  close(): void;
}

/** Slots over the whole registry: the autoscaler's input and /api/stats. */
export function slotTotals(workers: readonly WorkerInfo[]): { total: number; busy: number } {
  let total = 0;
  let busy = 0;
  for (const worker of workers) {
    total += worker.slots_total;
    busy += worker.slots_busy;
  }
  return { total, busy };
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
