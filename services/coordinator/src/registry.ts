import type { HeartbeatRequest, HeldTask, TaskRequest, TaskResponse, WorkerInfo } from '../../common/src/grpc/contract';
import type { Ownership } from './db/worker-owners';

/** How tasks reach a worker: a call the coordinator dials, or the worker's own Connect stream. */
export interface WorkerTransport {
  readonly kind: 'dialled' | 'connected';
  /** The address a dialled transport calls. */
  readonly address?: string;
  /** Sends tasks; one answer per task, in order. Rejects when the call or the stream failed. */
  submit(tasks: TaskRequest[], timeoutMs: number): Promise<TaskResponse[]>;
  /** Tells the worker to stop these attempts now; only a Connect stream can (task-stops.ts). */
  drop?(tasks: HeldTask[], reason: string): void;
  close(): void;
}

/** The tasks a worker can take: a claim for its slots only picks tasks matching these. */
export interface Capabilities {
  /** Task names it runs. */
  names: string[];
  /** It runs command tasks (no name). */
  commandTasks: boolean;
  /** Only command tasks without a payload: an original-contract worker simulates whatever it gets. */
  commandsWithoutPayload: boolean;
  /** The queues it takes tasks from (a worker pool's); empty or absent: every queue. */
  queues?: string[];
}

export interface RegisteredWorker {
  readonly id: number;
  /** The client certificate's name its id is bound to; null on a plaintext port (caller-access.ts). */
  readonly identity: string | null;
  address: string;
  name: string;
  slotsTotal: number;
  /**
   * What this worker holds, as far as the coordinator knows: task id → attempt. A worker that lists its
   * holdings (reports_held) replaces this at every heartbeat, keeping only attempts sent since the grace
   * began (they may have crossed the heartbeat); for other workers it is what was sent and not reported
   * finished. Busy slots are its size: there is no separate counter to drift.
   */
  assigned: Map<string, Assignment>;
  /** Slots reserved by a dispatch pass that has not claimed yet. */
  reserved: number;
  /** performance.now() of the last heartbeat: eviction runs on the monotonic clock. */
  lastHeartbeatAt: number;
  /** Date.now() of the last heartbeat, for display only. */
  lastHeartbeatWallMs: number;
  draining: boolean;
  /** Not sent work before this time: it just refused or failed a dispatch. */
  pausedUntil: number;
  /** An original-contract worker: no slot counts, no batch RPC, no attempts. */
  legacy: boolean;
  /** Lists what it holds in every heartbeat (HeartbeatRequest.reports_held). */
  reportsHeld: boolean;
  /** Holds a task sent before it is due until TaskRequest.start_after_ms has passed. */
  delayedStart: boolean;
  capabilities: Capabilities;
  /** Key of `capabilities`: workers with the same key are served by one claim. */
  capabilityKey: string;
  transport: WorkerTransport | undefined;
  /** The gRPC peer its heartbeats come from. */
  peer: string;
  /** The database may hold tasks for it that the coordinator does not know (joined, or a hand-back failed). */
  needsReconcile: boolean;
  /** performance.now() when it joined this coordinator: within a grace of it, what it holds is still settling. */
  readonly joinedAt: number;
  /** This coordinator's claim on the worker (worker_owners), set when it joined or reconnected here. */
  ownership: Ownership | undefined;
}

/** Shared by the tasks of one claim with the same attempt number: never changed once made. */
export interface Assignment {
  readonly attempt: number;
  /** performance.now() when it was sent. */
  readonly sentAt: number;
}

export interface RegistryOptions {
  defaultSlots: number;
  heartbeatIntervalMs: number;
  maxMissedHeartbeats: number;
  /** How long a sent task may be missing from the worker's holdings before it counts as not held. */
  holdingsGraceMs: number;
  now?: () => number;
}

/** The names every original-contract worker can run: none, only command tasks without a payload. */
const LEGACY_CAPABILITIES: Capabilities = { names: [], commandTasks: true, commandsWithoutPayload: true };

function capabilitiesOf(request: HeartbeatRequest, legacy: boolean): Capabilities {
  if (legacy) return LEGACY_CAPABILITIES;
  // A worker built before task names existed sends neither: it runs command tasks, as it always did.
  const commandTasks = request.command_tasks || (!request.reports_held && request.handles.length === 0);
  const queues = [...new Set(request.queues ?? [])].sort();
  return { names: [...new Set(request.handles)].sort(), commandTasks, commandsWithoutPayload: false, ...(queues.length > 0 ? { queues } : {}) };
}

/** Result of reconciling a heartbeat's holdings with what the coordinator sent. */
export interface HoldingsUpdate {
  /** Sent to the worker more than the grace ago and not in its holdings: to be handed back. */
  missing: HeldTask[];
}

/**
 * The coordinator's in-memory view of its workers, fed by heartbeats. The database is the truth about
 * tasks; each worker is the truth about what it holds; this decides where to send, and how many slots are
 * busy (docs/architecture.md, "Slots").
 */
export class WorkerRegistry {
  private readonly workers = new Map<number, RegisteredWorker>();
  private cursor = 0;
  private readonly now: () => number;

  constructor(private readonly options: RegistryOptions) {
    this.now = options.now ?? (() => performance.now());
  }

  /** Records a heartbeat; `joined` is true for a worker not known before. */
  heartbeat(request: HeartbeatRequest, peer = '', identity: string | null = null): { worker: RegisteredWorker; joined: boolean } {
    const legacy = request.slots_total === 0;
    const existing = this.workers.get(request.workerId);
    const capabilities = capabilitiesOf(request, legacy);
    const worker: RegisteredWorker = existing ?? {
      id: request.workerId,
      identity,
      address: request.address,
      name: request.name,
      slotsTotal: 0,
      assigned: new Map(),
      reserved: 0,
      lastHeartbeatAt: 0,
      lastHeartbeatWallMs: 0,
      draining: false,
      pausedUntil: 0,
      legacy,
      reportsHeld: false,
      delayedStart: false,
      capabilities,
      capabilityKey: '',
      transport: undefined,
      peer,
      needsReconcile: true,
      joinedAt: this.now(),
      ownership: undefined,
    };
    worker.address = request.address;
    worker.name = request.name || `worker-${request.workerId}`;
    worker.slotsTotal = legacy ? this.options.defaultSlots : request.slots_total;
    worker.legacy = legacy;
    worker.reportsHeld = request.reports_held === true;
    worker.delayedStart = request.delayed_start === true;
    worker.draining = request.draining;
    worker.capabilities = capabilities;
    worker.capabilityKey = JSON.stringify(capabilities);
    worker.peer = peer;
    worker.lastHeartbeatAt = this.now();
    worker.lastHeartbeatWallMs = Date.now();
    this.workers.set(worker.id, worker);
    return { worker, joined: !existing };
  }

  /**
   * Takes a heartbeat's holdings as the truth: they replace what was assigned, except attempts sent within
   * the grace, which the worker may not have had when it built the heartbeat. Returns what was sent longer
   * ago and is not held: lost on the way, or dropped by the worker.
   */
  updateHoldings(worker: RegisteredWorker, held: readonly HeldTask[]): HoldingsUpdate {
    const now = this.now();
    const next = new Map<string, Assignment>();
    for (const task of held) {
      const id = task.task_id.toLowerCase();
      const sent = worker.assigned.get(id);
      next.set(id, sent?.attempt === task.attempt ? sent : { attempt: task.attempt, sentAt: sent?.sentAt ?? now });
    }
    const missing: HeldTask[] = [];
    for (const [id, assignment] of worker.assigned) {
      const heldAttempt = next.get(id)?.attempt;
      if (heldAttempt === assignment.attempt) continue;
      if (now - assignment.sentAt < this.options.holdingsGraceMs) {
        // A newer attempt than the one held wins: the held one is stale and will be dropped.
        if (heldAttempt === undefined || heldAttempt < assignment.attempt) next.set(id, assignment);
      } else {
        missing.push({ task_id: id, attempt: assignment.attempt });
      }
    }
    worker.assigned = next;
    return { missing };
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

  busy(worker: RegisteredWorker): number {
    return worker.assigned.size + worker.reserved;
  }

  /**
   * Reserves up to `max` free slots, one per worker per round, starting one worker further on each call, so
   * work spreads round-robin. Returns one worker id per reserved slot; the caller turns each into an
   * assignment (assign) or gives it back (unreserve).
   */
  reserveSlots(max: number): number[] {
    const now = this.now();
    const candidates = [...this.workers.values()].filter(
      (w) => !w.draining && w.transport !== undefined && w.pausedUntil <= now && this.busy(w) < w.slotsTotal,
    );
    if (candidates.length === 0) return [];
    const start = this.cursor++ % candidates.length;
    const ordered = [...candidates.slice(start), ...candidates.slice(0, start)];
    const plan: number[] = [];
    for (let progress = true; progress && plan.length < max; ) {
      progress = false;
      for (const worker of ordered) {
        if (plan.length >= max) break;
        if (this.busy(worker) < worker.slotsTotal) {
          worker.reserved++;
          plan.push(worker.id);
          progress = true;
        }
      }
    }
    return plan;
  }

  /**
   * Ends a pass's reservations: the slots in `plan` (one worker id per reserved slot) are released, and each
   * claimed task takes a slot of the worker it was claimed for. One clock reading for the whole claim.
   */
  settleReservations(plan: readonly number[], claimed: readonly { id: string; worker_id: number; attempt: number }[]): void {
    for (const id of plan) {
      const worker = this.workers.get(id);
      if (worker && worker.reserved > 0) worker.reserved--;
    }
    // One clock reading, and one Assignment per attempt number, for the whole claim: an object per task
    // lives until the task's report, past young-generation collections, and adds to the old generation.
    const sentAt = this.now();
    const shared = new Map<number, Assignment>();
    for (const task of claimed) {
      let assignment = shared.get(task.attempt);
      if (!assignment) shared.set(task.attempt, assignment = { attempt: task.attempt, sentAt });
      // Claimed ids come from PostgreSQL's uuid output: lower case already.
      this.workers.get(task.worker_id)?.assigned.set(task.id, assignment);
    }
  }

  /**
   * The attempt is no longer the worker's: it finished, was refused, or was handed back. Frees its slot
   * only for that attempt, so a late report of an older attempt cannot free a newer one's slot.
   */
  unassign(workerId: number, taskId: string, attempt?: number): void {
    const worker = this.workers.get(workerId);
    if (!worker) return;
    const id = taskId.toLowerCase();
    const assignment = worker.assigned.get(id);
    if (assignment && (attempt === undefined || attempt === 0 || assignment.attempt === attempt)) worker.assigned.delete(id);
  }

  /** Sends a worker no work for `ms`, so one that keeps refusing cannot make the dispatcher spin. */
  pause(workerId: number, ms: number): void {
    const worker = this.workers.get(workerId);
    if (worker) worker.pausedUntil = this.now() + ms;
  }

  /** Workers grouped by what they can take, each group's ids in the order given. */
  groupByCapabilities(workerIds: readonly number[]): Map<string, { capabilities: Capabilities; slots: readonly number[] }> {
    // Usually every worker takes the same tasks: one group, the ids as given, not copied slot by slot.
    const [first, ...others] = this.workers.values();
    if (first && others.every((worker) => worker.capabilityKey === first.capabilityKey) && workerIds.every((id) => this.workers.has(id))) {
      return new Map(workerIds.length > 0 ? [[first.capabilityKey, { capabilities: first.capabilities, slots: workerIds }]] : []);
    }
    const groups = new Map<string, { capabilities: Capabilities; slots: number[] }>();
    for (const id of workerIds) {
      const worker = this.workers.get(id);
      if (!worker) continue;
      let group = groups.get(worker.capabilityKey);
      if (!group) {
        group = { capabilities: worker.capabilities, slots: [] };
        groups.set(worker.capabilityKey, group);
      }
      group.slots.push(id);
    }
    return groups;
  }

  /** Task names some live worker runs, and whether some live worker runs command tasks. */
  handledNames(): { names: Set<string>; commandTasks: boolean } {
    const names = new Set<string>();
    let commandTasks = false;
    for (const worker of this.workers.values()) {
      for (const name of worker.capabilities.names) names.add(name);
      commandTasks ||= worker.capabilities.commandTasks;
    }
    return { names, commandTasks };
  }

  list(): WorkerInfo[] {
    const now = this.now();
    return [...this.workers.values()].map((worker) => ({
      workerId: worker.id,
      address: worker.address,
      name: worker.name,
      slots_total: worker.slotsTotal,
      slots_busy: Math.min(worker.slotsTotal, worker.assigned.size),
      heartbeat_misses: Math.floor((now - worker.lastHeartbeatAt) / this.options.heartbeatIntervalMs),
      last_heartbeat_ms: worker.lastHeartbeatWallMs,
      draining: worker.draining,
      in_flight: worker.assigned.size,
      handles: worker.capabilities.names,
      command_tasks: worker.capabilities.commandTasks,
      queues: worker.capabilities.queues ?? [],
    }));
  }

  get size(): number {
    return this.workers.size;
  }
}

/** The IP of a gRPC peer string: "10.0.0.7:5123" → "10.0.0.7", "[::1]:5123" and "::1:5123" → "::1". */
function peerHost(peer: string): string {
  const colon = peer.lastIndexOf(':');
  const host = colon > 0 ? peer.slice(0, colon) : peer;
  return host.replace(/^\[(.*)\]$/, '$1');
}
