import type { HeartbeatRequest, WorkerInfo } from '../../common/src/grpc/contract';

export interface RegisteredWorker {
  readonly id: number;
  address: string;
  name: string;
  slotsTotal: number;
  /** Tasks sent to this worker and not yet reported finished: the coordinator's own count. */
  inFlight: number;
  lastHeartbeatAt: number;
  draining: boolean;
  /** Not sent work before this time: it just refused or failed a dispatch. */
  pausedUntil: number;
  /** An original-contract worker: no slot counts, no batch RPC, no attempts. */
  legacy: boolean;
  /** Holds a task sent before it is due until TaskRequest.start_after_ms has passed. */
  delayedStart: boolean;
  /** The gRPC peer ("ip:port") its last heartbeat came from: attributes an original worker's reports. */
  peer?: string;
}

export interface RegistryOptions {
  defaultSlots: number;
  heartbeatIntervalMs: number;
  maxMissedHeartbeats: number;
  now?: () => number;
}

/**
 * The coordinator's in-memory view of its workers, fed by heartbeats. It owns slot accounting: a slot is
 * taken when a task is planned for a worker and given back when the worker reports the task finished or
 * the task is handed back. The database stays the truth about tasks; this only decides where to send.
 */
export class WorkerRegistry {
  private readonly workers = new Map<number, RegisteredWorker>();
  private cursor = 0;
  private readonly now: () => number;

  constructor(private readonly options: RegistryOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Records a heartbeat; `joined` is true for a worker not known before. */
  heartbeat(request: HeartbeatRequest, peer?: string): { worker: RegisteredWorker; joined: boolean } {
    const legacy = request.slots_total === 0;
    const existing = this.workers.get(request.workerId);
    const worker: RegisteredWorker = existing ?? {
      id: request.workerId,
      address: request.address,
      name: request.name,
      slotsTotal: 0,
      inFlight: 0,
      lastHeartbeatAt: 0,
      draining: false,
      pausedUntil: 0,
      legacy,
      delayedStart: false,
    };
    worker.address = request.address;
    worker.name = request.name || `worker-${request.workerId}`;
    worker.slotsTotal = legacy ? this.options.defaultSlots : request.slots_total;
    worker.legacy = legacy;
    worker.delayedStart = request.delayed_start === true;
    worker.draining = request.draining;
    worker.lastHeartbeatAt = this.now();
    if (peer !== undefined) worker.peer = peer;
    this.workers.set(worker.id, worker);
    return { worker, joined: !existing };
  }

  get(id: number): RegisteredWorker | undefined {
    return this.workers.get(id);
  }

  /**
   * The original-contract worker that reports from `peer`. An original worker sends its heartbeats and its
   * reports over one client connection, so the exact peer (ip:port) names it. After a reconnect its reports
   * may come from a new port until its next heartbeat: then the one original worker at that IP, if only one
   * is there (several behind one IP cannot be told apart; their reports wait for the next heartbeat).
   */
  legacyWorkerAt(peer: string): number | undefined {
    const legacy = [...this.workers.values()].filter((worker) => worker.legacy && worker.peer !== undefined);
    const exact = legacy.find((worker) => worker.peer === peer);
    if (exact) return exact.id;
    const sameHost = legacy.filter((worker) => peerHost(worker.peer!) === peerHost(peer));
    return sameHost.length === 1 ? sameHost[0].id : undefined;
  }

  remove(id: number): RegisteredWorker | undefined {
    const worker = this.workers.get(id);
    this.workers.delete(id);
    return worker;
  }

  /** Workers silent for longer than maxMissedHeartbeats intervals: to be evicted. */
  silent(): RegisteredWorker[] {
    const limit = this.options.heartbeatIntervalMs * this.options.maxMissedHeartbeats;
    const now = this.now();
    return [...this.workers.values()].filter((worker) => now - worker.lastHeartbeatAt > limit);
  }

  /** Whether every worker would hold a task sent early, so claims may look ahead of due time. */
  allDelayedStart(): boolean {
    for (const worker of this.workers.values()) if (!worker.delayedStart) return false;
    return true;
  }

  /**
   * Reserves up to `max` free slots, one per worker per round, starting one worker further on each call, so
   * work spreads round-robin. Returns one worker id per reserved slot; the caller gives back what it does not
   * use with release().
   */
  reserveSlots(max: number): number[] {
    const now = this.now();
    const candidates = [...this.workers.values()].filter(
      (w) => !w.draining && w.pausedUntil <= now && w.inFlight < w.slotsTotal,
    );
    if (candidates.length === 0) return [];
    const start = this.cursor++ % candidates.length;
    const ordered = [...candidates.slice(start), ...candidates.slice(0, start)];
    const plan: number[] = [];
    for (let progress = true; progress && plan.length < max; ) {
      progress = false;
      for (const worker of ordered) {
        if (plan.length >= max) break;
        if (worker.inFlight < worker.slotsTotal) {
          worker.inFlight++;
          plan.push(worker.id);
          progress = true;
        }
      }
    }
    return plan;
  }

  /** Sends a worker no work for `ms`, so one that keeps refusing cannot make the dispatcher spin. */
  pause(workerId: number, ms: number): void {
    const worker = this.workers.get(workerId);
    if (worker) worker.pausedUntil = this.now() + ms;
  }

  /** Gives back `count` slots of a worker (tasks finished, handed back, or reservations unused). */
  release(workerId: number, count = 1): void {
    const worker = this.workers.get(workerId);
    if (worker) worker.inFlight = Math.max(0, worker.inFlight - count);
  }

  list(): WorkerInfo[] {
    const now = this.now();
    return [...this.workers.values()].map((worker) => ({
      workerId: worker.id,
      address: worker.address,
      name: worker.name,
      slots_total: worker.slotsTotal,
      slots_busy: Math.min(worker.slotsTotal, worker.inFlight),
      heartbeat_misses: Math.floor((now - worker.lastHeartbeatAt) / this.options.heartbeatIntervalMs),
      last_heartbeat_ms: worker.lastHeartbeatAt,
      draining: worker.draining,
      in_flight: worker.inFlight,
    }));
  }

  get size(): number {
    return this.workers.size;
  }
}

/** The IP of a gRPC peer string: "10.0.0.7:5123" → "10.0.0.7", "[::1]:5123" and "::1:5123" → "::1". */
export function peerHost(peer: string): string {
  const colon = peer.lastIndexOf(':');
  const host = colon > 0 ? peer.slice(0, colon) : peer;
  return host.replace(/^\[(.*)\]$/, '$1');
}
