import type * as grpc from '@grpc/grpc-js';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { fingerprint } from '../../common/src/fingerprint';
import { ForbiddenError, NotFoundError, StaleAttemptError, ValidationError } from '../../common/src/errors';
import { requestStream, unary } from '../../common/src/grpc/server';
import { parseCommand } from '../../common/src/validation';
import { CONTROL_CHARACTERS } from '../../sdk/src/task-fields';
import { MAX_SLOTS } from './heartbeats';
import type {
  ClientTaskRequest, ClientTaskResponse, HeartbeatRequest, HeartbeatResponse, ListWorkersResponse,
  UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse, UpdateTaskStatusRequest, UpdateTaskStatusResponse,
} from '../../common/src/grpc/contract';
import { authorizeClient, workerIdentity, type ListenerAccess } from './caller-access';
import { existingTaskIds } from './db/record-transitions';
import type { HandleHeartbeat } from './heartbeats';
import { observeHeartbeat } from './metrics';
import type { WorkerRegistry } from './registry';
import type { StatusRecorder } from './status-recorder';
import { connectHandler } from './worker-connection';

/** The most reports one UpdateTaskStatusBatch or stream message may carry: a worker's slots at most. */
const MAX_REPORTS_PER_BATCH = MAX_SLOTS;

export interface CoordinatorServiceDeps {
  pool: Pool;
  logger: Logger;
  registry: WorkerRegistry;
  recorder: StatusRecorder;
  heartbeat: HandleHeartbeat;
  /** IDEMPOTENCY_KEY_TTL, for SubmitTask's keys. */
  keyTtlMs?: number;
  /** What the port these handlers serve asks of callers (caller-access.ts). */
  access: ListenerAccess;
}

/** What a handler needs of its call: who sent it ("ip:port"), and how (its certificate, its metadata). */
type Call = Pick<grpc.ServerUnaryCall<unknown, unknown>, 'getPeer' | 'getAuthContext' | 'metadata'>;

/**
 * The CoordinatorService handlers (proto/taskmaster.proto) for one port; validation here, who may call what
 * in caller-access.ts, state in the modules.
 */
export function coordinatorService(deps: CoordinatorServiceDeps): grpc.UntypedServiceImplementation {
  const { pool, logger, registry, recorder, heartbeat, keyTtlMs, access } = deps;

  async function submitTask(request: ClientTaskRequest, call: Call): Promise<ClientTaskResponse> {
    authorizeClient(call, access, 'submit');
    const command = parseCommand(request.data, 'data');
    // 253402300799 is 9999-12-31T23:59:59Z, the latest time the API takes too.
    if (!Number.isSafeInteger(request.scheduled_at) || request.scheduled_at < 0 || request.scheduled_at > 253_402_300_799) {
      throw new ValidationError('scheduled_at must be Unix seconds up to the end of year 9999, or 0 for now', 'scheduled_at');
    }
    const scheduledAt = request.scheduled_at > 0 ? new Date(request.scheduled_at * 1000) : new Date();
    const key = request.idempotency_key;
    if (key !== '' && (key.length > 255 || CONTROL_CHARACTERS.test(key))) {
      throw new ValidationError('idempotency_key must be 1 to 255 characters without control characters', 'idempotency_key');
    }
    const keyed = key === '' ? {} : { idempotencyKey: key, fingerprint: fingerprint({ data: command, scheduled_at: request.scheduled_at }) };
    const [task] = await insertTasks(pool, [{ command, scheduledAt, ...keyed }], { keyTtlMs });
    logger.info({ task_id: task.id, command, inserted: task.inserted }, 'task submitted over gRPC');
    return { message: task.inserted ? 'Task submitted' : 'Task already submitted with this idempotency_key', task_id: task.id };
  }

  async function sendHeartbeat(request: HeartbeatRequest, call: Call): Promise<HeartbeatResponse> {
    const identity = workerIdentity(call, access);
    observeHeartbeat();
    return heartbeat(request, call.getPeer(), undefined, identity);
  }

  /**
   * The original-contract worker an attempt-0 report comes from, by the connection it came over (the peer its
   * heartbeats come from, registry.legacyWorkerAt); null when none. Reports with an attempt need none.
   */
  function legacyReporter(updates: readonly UpdateTaskStatusRequest[], call: Call): number | null {
    if (!updates.some((update) => update.attempt === 0)) return null;
    return registry.legacyWorkerAt(call.getPeer()) ?? null;
  }

  /**
   * The worker a certificate holder's reports come from: every one must name the same worker, registered
   * here under that certificate's identity, and applies only to attempts sent to it. Null on a plaintext port.
   */
  function certifiedSender(updates: readonly UpdateTaskStatusRequest[], call: Call): number | null {
    const identity = workerIdentity(call, access);
    if (identity === null || updates.length === 0) return null;
    const workerId = updates[0].worker_id;
    const worker = registry.get(workerId);
    if (!worker || worker.identity !== identity || updates.some((update) => update.worker_id !== workerId)) {
      throw new ForbiddenError(`reports must name a worker of ${identity} connected to this coordinator (worker_id ${workerId})`, 'worker_id');
    }
    return workerId;
  }

  async function updateTaskStatus(request: UpdateTaskStatusRequest, call: Call): Promise<UpdateTaskStatusResponse> {
    const sender = certifiedSender([request], call);
    const outcome = await recorder.record(request, sender === null ? legacyReporter([request], call) : null, sender);
    if (outcome.problem) throw new ValidationError(outcome.problem.message, outcome.problem.field);
    if (outcome.applied) return { success: true, message: 'recorded' };
    const exists = await existingTaskIds(pool, [request.task_id]);
    if (exists.size === 0) throw new NotFoundError(`task ${request.task_id} does not exist`, 'task_id');
    throw new StaleAttemptError(
      `report for task ${request.task_id} attempt ${request.attempt} not applied: stale attempt, or the task is not in flight`,
    );
  }

  /** `sender`: given for reports on a worker's Connect stream, which apply only to attempts sent to that worker. */
  async function updateTaskStatuses(
    request: UpdateTaskStatusBatchRequest,
    call: Call | { sender: number },
  ): Promise<UpdateTaskStatusBatchResponse> {
    // A worker reports at most what its slots hold; more in one batch is not a worker's report.
    if (request.updates.length > MAX_REPORTS_PER_BATCH) {
      throw new ValidationError(`updates lists ${request.updates.length} reports; a batch holds at most ${MAX_REPORTS_PER_BATCH}`, 'updates');
    }
    if ('sender' in call) return { results: await recorder.recordAll(request.updates, null, call.sender) };
    const sender = certifiedSender(request.updates, call);
    return { results: await recorder.recordAll(request.updates, sender === null ? legacyReporter(request.updates, call) : null, sender) };
  }

  async function listWorkers(_request: unknown, call: Call): Promise<ListWorkersResponse> {
    authorizeClient(call, access, 'list');
    return { workers: registry.list() };
  }

  return {
    SubmitTask: unary(logger, 'SubmitTask', submitTask),
    SendHeartbeat: unary(logger, 'SendHeartbeat', sendHeartbeat),
    UpdateTaskStatus: unary(logger, 'UpdateTaskStatus', updateTaskStatus),
    UpdateTaskStatuses: unary(logger, 'UpdateTaskStatuses', updateTaskStatuses),
    StreamTaskStatuses: requestStream(logger, 'StreamTaskStatuses', updateTaskStatuses),
    ListWorkers: unary(logger, 'ListWorkers', listWorkers),
    Connect: connectHandler({
      logger,
      identify: (call) => workerIdentity(call, access),
      heartbeat: (request, peer, transport, identity) => {
        observeHeartbeat();
        return heartbeat(request, peer, transport, identity);
      },
      reports: (request, workerId) => updateTaskStatuses(request, { sender: workerId }),
      disconnected: (workerId, transport) => {
        const worker = registry.get(workerId);
        if (worker?.transport === transport) worker.transport = undefined;
        logger.info({ worker_id: workerId }, 'worker disconnected; it stays registered until it reconnects, leaves or is evicted');
      },
    }),
  };
}
