import type * as grpc from '@grpc/grpc-js';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { insertTasks } from '../../common/src/db/insert-tasks';
import { fingerprint } from '../../common/src/fingerprint';
import { NotFoundError, StaleAttemptError, ValidationError } from '../../common/src/errors';
import { requestStream, unary } from '../../common/src/grpc/server';
import { parseCommand } from '../../common/src/validation';
import { CONTROL_CHARACTERS } from '../../sdk/src/task-fields';
import { MAX_SLOTS } from './heartbeats';
import type {
  ClientTaskRequest, ClientTaskResponse, HeartbeatRequest, HeartbeatResponse, ListWorkersResponse,
  UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse, UpdateTaskStatusRequest, UpdateTaskStatusResponse,
} from '../../common/src/grpc/contract';
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
}

/** What a handler needs of its call: who sent it ("ip:port"). */
interface Peer {
  getPeer(): string;
}

/** The CoordinatorService handlers (proto/taskmaster.proto); validation here, state in the modules. */
export function coordinatorService(deps: CoordinatorServiceDeps): grpc.UntypedServiceImplementation {
  const { pool, logger, registry, recorder, heartbeat, keyTtlMs } = deps;

  async function submitTask(request: ClientTaskRequest): Promise<ClientTaskResponse> {
    const command = parseCommand(request.data, 'data');
    if (!Number.isSafeInteger(request.scheduled_at) || request.scheduled_at < 0) {
      throw new ValidationError('scheduled_at must be Unix seconds, or 0 for now', 'scheduled_at');
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

  async function sendHeartbeat(request: HeartbeatRequest, call: grpc.ServerUnaryCall<HeartbeatRequest, HeartbeatResponse>): Promise<HeartbeatResponse> {
    observeHeartbeat();
    return heartbeat(request, call.getPeer());
  }

  /**
   * The original-contract worker an attempt-0 report comes from, by the connection it came over (the peer its
   * heartbeats come from, registry.legacyWorkerAt); null when none. Reports with an attempt need none.
   */
  function legacyReporter(updates: readonly UpdateTaskStatusRequest[], call?: Peer): number | null {
    if (!call || !updates.some((update) => update.attempt === 0)) return null;
    return registry.legacyWorkerAt(call.getPeer()) ?? null;
  }

  async function updateTaskStatus(request: UpdateTaskStatusRequest, call: Peer): Promise<UpdateTaskStatusResponse> {
    const outcome = await recorder.record(request, legacyReporter([request], call));
    if (outcome.problem) throw new ValidationError(outcome.problem.message, outcome.problem.field);
    if (outcome.applied) return { success: true, message: 'recorded' };
    const exists = await existingTaskIds(pool, [request.task_id]);
    if (exists.size === 0) throw new NotFoundError(`task ${request.task_id} does not exist`, 'task_id');
    throw new StaleAttemptError(
      `report for task ${request.task_id} attempt ${request.attempt} not applied: stale attempt, or the task is not in flight`,
    );
  }

  // Over the stream there is no call to ask for the peer: attempt-0 reports (original workers only use the
  // unary call) then apply nowhere.
  async function updateTaskStatuses(
    request: UpdateTaskStatusBatchRequest,
    call?: Peer,
  ): Promise<UpdateTaskStatusBatchResponse> {
    // A worker reports at most what its slots hold; more in one batch is not a worker's report.
    if (request.updates.length > MAX_REPORTS_PER_BATCH) {
      throw new ValidationError(`updates lists ${request.updates.length} reports; a batch holds at most ${MAX_REPORTS_PER_BATCH}`, 'updates');
    }
    return { results: await recorder.recordAll(request.updates, legacyReporter(request.updates, call)) };
  }

  async function listWorkers(): Promise<ListWorkersResponse> {
    return { workers: registry.list() };
  }

  return {
    SubmitTask: unary(logger, 'SubmitTask', submitTask),
    SendHeartbeat: unary(logger, 'SendHeartbeat', sendHeartbeat),
    UpdateTaskStatus: unary(logger, 'UpdateTaskStatus', updateTaskStatus),
    UpdateTaskStatuses: unary(logger, 'UpdateTaskStatuses', updateTaskStatuses),
    StreamTaskStatuses: requestStream(logger, 'StreamTaskStatuses', (request: UpdateTaskStatusBatchRequest) => updateTaskStatuses(request)),
    ListWorkers: unary(logger, 'ListWorkers', listWorkers),
    Connect: connectHandler({
      logger,
      heartbeat: (request, peer, transport) => {
        observeHeartbeat();
        return heartbeat(request, peer, transport);
      },
      reports: updateTaskStatuses,
      disconnected: (workerId, transport) => {
        const worker = registry.get(workerId);
        if (worker?.transport === transport) worker.transport = undefined;
        logger.info({ worker_id: workerId }, 'worker disconnected; it stays registered until it reconnects, leaves or is evicted');
      },
    }),
  };
}
