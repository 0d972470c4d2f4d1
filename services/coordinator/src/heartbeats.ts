import { limitDeclarationProblem, saveDeclaredLimits } from './declared-limits';
import { MAX_DECLARED, declarationProblem, saveDeclaredSchedules } from './declared-schedules';
import type { Pool } from '../../common/src/db/pool';
import { NAME_PATTERN } from '../../sdk/src/task-fields';
import type { Logger } from '../../common/src/logger';
import { insertEvent } from '../../common/src/db/events';
import { ForbiddenError, ValidationError } from '../../common/src/errors';
import { isUuid } from '../../common/src/validation';
import type { HeartbeatRequest, HeartbeatResponse, HeldTask } from '../../common/src/grpc/contract';
import { handBackUnheld, type HandedBack } from './db/hand-back-tasks';
import { reconcileHeld, renewalHorizonMs, renewByWorker } from './db/reconcile-holdings';
import { claimWorker, whileOwned } from './db/worker-owners';
import type { RegisteredWorker, WorkerRegistry, WorkerTransport } from './registry';
import type { Sweeper } from './sweeper';
import type { WorkerClients } from './worker-clients';

export interface HeartbeatDeps {
  pool: Pool;
  logger: Logger;
  registry: WorkerRegistry;
  sweeper: Sweeper;
  /** This coordinator's id in worker_owners. */
  coordinatorId: string;
  clients: WorkerClients;
  leaseMs: number;
  heartbeatIntervalMs: number;
  /** How long a sent task may be missing from a worker's holdings before it is handed back. */
  holdingsGraceMs: number;
  /** Capacity may have appeared (a worker joined or beat). */
  wake: () => void;
  onHandedBack: (tasks: readonly HandedBack[]) => void;
}

const MAX_WORKER_ID = 0xffffffff;
/**
 * The most slots a worker may announce: what the SDK allows (startWorker's `slots`). Beyond it a peer could
 * take nearly every task with one heartbeat.
 */
export const MAX_SLOTS = 100_000;

/** Checks a heartbeat before it touches any state; `connected` ones come on the worker's own stream. */
function validate(request: HeartbeatRequest, connected: boolean): void {
  if (!Number.isInteger(request.workerId) || request.workerId < 1 || request.workerId > MAX_WORKER_ID) {
    throw new ValidationError('workerId must be a positive 32-bit integer', 'workerId');
  }
  if (!connected && !/^[^\s]+:\d{1,5}$/.test(request.address)) {
    throw new ValidationError('address must be host:port where the worker serves WorkerService', 'address');
  }
  for (const name of request.handles) {
    if (!NAME_PATTERN.test(name)) throw new ValidationError(`handles: "${name.slice(0, 140)}" is not a task name (${NAME_PATTERN.source})`, 'handles');
  }
  if (request.slots_total > MAX_SLOTS) throw new ValidationError(`slots_total must be at most ${MAX_SLOTS}`, 'slots_total');
  if (request.held.length > 100_000) throw new ValidationError('held lists more than 100,000 tasks', 'held');
  if (request.schedules.length > MAX_DECLARED) throw new ValidationError(`schedules lists more than ${MAX_DECLARED}`, 'schedules');
  if (request.concurrency_limits.length > MAX_DECLARED) throw new ValidationError(`concurrency_limits lists more than ${MAX_DECLARED}`, 'concurrency_limits');
  for (const task of request.held) {
    if (!isUuid(task.task_id)) {
      throw new ValidationError('held: task_id must be a UUID', 'held');
    }
  }
}

function checkDeclarations(request: HeartbeatRequest): void {
  for (const [i, declaration] of request.schedules.entries()) {
    const problem = declarationProblem(declaration);
    if (problem) throw new ValidationError(`schedules[${i}].${problem}`, `schedules[${i}]`);
  }
  for (const [i, declaration] of request.concurrency_limits.entries()) {
    const problem = limitDeclarationProblem(declaration);
    if (problem) throw new ValidationError(`concurrency_limits[${i}].${problem}`, `concurrency_limits[${i}]`);
  }
}

/**
 * Handles one heartbeat, sent as a unary SendHeartbeat (a worker the coordinator dials) or on a Connect
 * stream. A worker that lists its holdings is the truth about what it runs: exactly those leases are
 * renewed, those are its busy slots, what the database gives it beyond them is handed back once the grace
 * has passed, and the answer tells it to drop the held attempts the database no longer gives it
 * (docs/architecture.md). An older worker that lists nothing has every lease it holds renewed by its id.
 */
export function heartbeatHandler(deps: HeartbeatDeps) {
  const { pool, logger, registry, sweeper, leaseMs, heartbeatIntervalMs, holdingsGraceMs } = deps;
  const horizonMs = renewalHorizonMs(leaseMs, heartbeatIntervalMs);

  async function joined(worker: RegisteredWorker): Promise<void> {
    if (!worker.reportsHeld) {
      // It cannot say what it holds: what the database gives it is what it is assumed to hold.
      for (const task of await renewByWorker(pool, worker.id, leaseMs, null)) {
        worker.assigned.set(task.task_id, { attempt: task.attempt, sentAt: performance.now() });
      }
    }
    await insertEvent(pool, {
      type: 'worker_joined',
      workerId: worker.id,
      message: `${worker.name} joined ${worker.transport?.kind === 'connected' ? 'over its own connection' : `at ${worker.address}`} with ${worker.slotsTotal} slots`,
    });
    logger.info({
      worker_id: worker.id, name: worker.name, address: worker.address || undefined, slots: worker.slotsTotal,
      legacy: worker.legacy, handles: worker.capabilities.names, command_tasks: worker.capabilities.commandTasks,
    }, 'worker joined');
  }

  async function reconcile(worker: RegisteredWorker, held: readonly HeldTask[], missing: readonly HeldTask[]): Promise<HeldTask[]> {
    const drop = await reconcileHeld(pool, worker.id, held, leaseMs, horizonMs);
    for (const task of drop) registry.unassign(worker.id, task.task_id, task.attempt);
    // Until a grace after the join, rows claimed by a predecessor may be too young to judge.
    const settling = performance.now() - worker.joinedAt < 2 * holdingsGraceMs;
    if (missing.length > 0 || worker.needsReconcile || settling) {
      try {
        let handedBack = worker.ownership && await whileOwned(pool, worker.ownership, (db) => handBackUnheld(db, worker.id, held, holdingsGraceMs));
        if (handedBack === undefined) {
          // Another coordinator claimed it since, yet it beats here: it moved back. Claim it again.
          worker.ownership = await claimWorker(pool, worker.id, deps.coordinatorId, worker.identity);
          handedBack = await whileOwned(pool, worker.ownership, (db) => handBackUnheld(db, worker.id, held, holdingsGraceMs)) ?? [];
        }
        worker.needsReconcile = false;
        if (handedBack.length > 0) {
          logger.warn({ worker_id: worker.id, handed_back: handedBack.length }, 'tasks dispatched to a worker that does not hold them; handed back');
          deps.onHandedBack(handedBack);
        }
      } catch (err) {
        worker.needsReconcile = true;
        throw err;
      }
    }
    return drop;
  }

  /**
   * `identity`: the worker certificate's name the call came with, null on a plaintext port. A worker id is
   * bound to the identity it first came with (here and, through worker_owners, on every coordinator).
   */
  return async function handleHeartbeat(
    request: HeartbeatRequest, peer: string, transport?: WorkerTransport, identity: string | null = null,
  ): Promise<HeartbeatResponse> {
    validate(request, transport?.kind === 'connected');
    const previous = registry.get(request.workerId);
    if (previous && previous.identity !== identity) {
      throw new ForbiddenError(`workerId ${request.workerId} belongs to another identity`, 'workerId');
    }
    if (request.leaving) {
      // removeWorker hands its tasks back, which wakes the dispatcher (coordinator.ts).
      await sweeper.removeWorker(request.workerId, 'left', identity);
      return { acknowledged: true, drop: [] };
    }
    // A new connection (a new stream, or unary calls from a new peer) may come after the worker was with
    // another coordinator: claim it again, so that one can no longer evict it or hand its tasks back.
    const reconnected = previous !== undefined && (transport ? previous.transport !== transport : previous.peer !== peer);
    // Every beat carries the declared schedules and limits, but they are read (and patterns parsed) only when the
    // worker joins or reconnects; checked here, before anything changes.
    const declaring = (previous === undefined || reconnected) && (request.schedules.length > 0 || request.concurrency_limits.length > 0);
    if (declaring) checkDeclarations(request);
    // Claimed before it is registered: the claim is also where the database refuses an id bound to another identity.
    const ownership = previous === undefined || reconnected || !previous.ownership
      ? await claimWorker(pool, request.workerId, deps.coordinatorId, identity) : undefined;
    const { worker, joined: isNew } = registry.heartbeat(request, peer, identity);
    // What it holds is taken in before any await: a dispatch pass in between must see its slots as they are
    // (found by the randomised fault test: a worker new here was sent tasks beyond its free slots).
    const { missing } = worker.reportsHeld ? registry.updateHoldings(worker, request.held) : { missing: [] };
    if (ownership) worker.ownership = ownership;
    if (transport) {
      if (worker.transport !== transport) worker.transport?.close();
      worker.transport = transport;
    } else if (!worker.transport || worker.transport.kind === 'connected' || worker.transport.address !== worker.address) {
      worker.transport?.close();
      worker.transport = deps.clients.transport(worker.address, worker.legacy);
    }
    if (isNew) await joined(worker);
    if (declaring) {
      await saveDeclaredSchedules(pool, request.schedules, deps.logger);
      await saveDeclaredLimits(pool, request.concurrency_limits, deps.logger);
    }
    let drop: HeldTask[] = [];
    if (worker.reportsHeld) {
      drop = await reconcile(worker, request.held, missing);
    } else if (worker.assigned.size > 0 && !isNew) {
      await renewByWorker(pool, worker.id, leaseMs, horizonMs);
    }
    if (!worker.draining) deps.wake();
    return { acknowledged: true, drop };
  };
}

export type HandleHeartbeat = ReturnType<typeof heartbeatHandler>;
