import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import {
  callUnary, createCoordinatorClient, type CoordinatorCredentials, type CoordinatorServiceClient, type WorkerInfo,
} from '../../common/src/grpc/contract';

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

/** host and port of "host:port" or "[v6]:port". */
function splitAddress(address: string): { host: string; port: string } {
  const match = /^\[?(.*?)\]?:(\d+)$/.exec(address);
  return match ? { host: match[1], port: match[2] } : { host: address, port: '' };
}

/**
 * The scheduler's window on the coordinators' worker registries (ListWorkers), with a short deadline. Each
 * coordinator knows only the workers connected to it, so the address's name is resolved to every address it
 * has (a headless Service lists every coordinator pod; DNS_CACHE_MS keeps that cheap) and each is asked;
 * a worker listed twice (it moved between two calls) is taken from the fresher answer. Null when no
 * coordinator answered.
 */
export function coordinatorView(address: string, timeoutMs = 2000, resolve = resolveAll, credentials: CoordinatorCredentials = {}): CoordinatorView {
  const clients = new Map<string, CoordinatorServiceClient>();
  let resolved: { at: number; addresses: string[] } | undefined;
  const addresses = async (): Promise<string[]> => {
    if (resolved && Date.now() - resolved.at < DNS_CACHE_MS) return resolved.addresses;
    const found = await resolve(address).catch(() => [address]);
    resolved = { at: Date.now(), addresses: found };
    for (const [known, client] of clients) {
      if (!found.includes(known)) {
        client.close();
        clients.delete(known);
      }
    }
    return found;
  };
  const client = (target: string) => {
    let existing = clients.get(target);
    if (!existing) {
      existing = createCoordinatorClient(target, credentials);
      clients.set(target, existing);
    }
    return existing;
  };
  return {
    async listWorkers() {
      const answers = await Promise.all((await addresses()).map(async (target) => {
        const c = client(target);
        return callUnary(c, c.ListWorkers, {}, timeoutMs).then((response) => response.workers, () => null);
      }));
      if (answers.every((answer) => answer === null)) return null;
      const byId = new Map<number, WorkerInfo>();
      for (const worker of answers.flatMap((answer) => answer ?? [])) {
        const seen = byId.get(worker.workerId);
        if (!seen || worker.last_heartbeat_ms > seen.last_heartbeat_ms) byId.set(worker.workerId, worker);
      }
      return [...byId.values()];
    },
    close: () => {
      for (const c of clients.values()) c.close();
      clients.clear();
    },
  };
}

const DNS_CACHE_MS = 5000;

/** Every address a host:port's name resolves to, as host:port targets; an IP stays as it is. */
async function resolveAll(address: string): Promise<string[]> {
  const { host, port } = splitAddress(address);
  if (!port || isIP(host)) return [address];
  const found = await lookup(host, { all: true });
  const targets = found.map((entry) => (entry.family === 6 ? `[${entry.address}]:${port}` : `${entry.address}:${port}`));
  return targets.length > 0 ? [...new Set(targets)] : [address];
}
