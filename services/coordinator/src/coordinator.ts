import { randomUUID } from 'node:crypto';
import { BearerTokens } from '../../common/src/bearer-tokens';
import type { CoordinatorConfig, DatabaseConfig, GrpcConfig } from '../../common/src/config';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { listen, type Listener } from '../../common/src/db/listener';
import { grpcApi } from '../../common/src/grpc/contract';
import { grpcListeners, serverCredentials } from '../../common/src/grpc/peer-security';
import { startGrpcServer, type GrpcServer } from '../../common/src/grpc/server';
import { AttemptTimeouts } from './attempt-timeouts';
import { parseConfiguredSchedules, saveConfiguredSchedules } from './configured-schedules';
import { Dispatcher } from './dispatcher';
import { heartbeatHandler } from './heartbeats';
import { observeDispatched, observeEviction, observeReassigned, observeReport, sampleQueue, watchWorkers } from './metrics';
import { WorkerRegistry } from './registry';
import { coordinatorService } from './service';
import { StatusRecorder } from './status-recorder';
import { ScheduleTicker } from './schedule-ticker';
import { Sweeper } from './sweeper';
import { parseCancelNotice, stopAttempts } from './task-stops';
import { WorkerClients } from './worker-clients';

export interface CoordinatorDeps {
  config: CoordinatorConfig;
  database: DatabaseConfig;
  pool: Pool;
  logger: Logger;
  host: string;
  /** How gRPC is served: TLS or plaintext (docs/security.md). @defaultValue plaintext, which needs a loopback host */
  grpc?: GrpcConfig;
}

export interface Coordinator {
  /** COORDINATOR_PORT as bound: TLS when configured. */
  readonly port: number;
  /** GRPC_PLAINTEXT_PORT as bound, beside a TLS port. */
  readonly plaintextPort?: number;
  readonly registry: WorkerRegistry;
  stop(): Promise<void>;
}

/** Builds and starts a coordinator: gRPC server, dispatcher, status recorder, sweeps, LISTEN wake-ups. */
export async function startCoordinator(deps: CoordinatorDeps): Promise<Coordinator> {
  const { config, pool, logger } = deps;
  // Checked before anything starts: a bad entry is a configuration error, as a bad variable is.
  await saveConfiguredSchedules(pool, parseConfiguredSchedules(config.schedulesJson), logger);
  // Names this process in worker_owners: a restarted coordinator is a new owner, and claims its workers anew.
  const coordinatorId = randomUUID();
  const registry = new WorkerRegistry({
    defaultSlots: config.defaultWorkerSlots,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    maxMissedHeartbeats: config.maxMissedHeartbeats,
    holdingsGraceMs: config.holdingsGraceMs,
  });
  const clients = new WorkerClients();
  const timeouts = new AttemptTimeouts({
    pool,
    registry,
    logger,
    backoff: { baseMs: config.retryBackoffBaseMs, maxMs: config.retryBackoffMaxMs },
    graceMs: config.taskTimeoutGraceMs,
    checkMs: Math.min(5000, Math.max(250, config.taskTimeoutGraceMs / 2)),
    onFailed: () => dispatcher.wake(),
  });
  // A notification wakes it for every change; the poll only covers one lost while LISTEN reconnected.
  const ticker = new ScheduleTicker({ pool, logger, onFired: () => dispatcher.wake(), pollIntervalMs: 60_000 });
  const dispatcher = new Dispatcher({
    pool,
    registry,
    logger,
    leaseMs: config.leaseMs,
    batchSize: config.dispatchBatchSize,
    lookaheadMs: config.dispatchLookaheadMs,
    pollIntervalMs: config.pollIntervalMs,
    onDispatched: (tasks) => {
      observeDispatched(tasks);
      for (const task of tasks) if (task.timeout_seconds !== null) timeouts.sent(task.timeout_seconds);
    },
    onHandedBack: (tasks) => observeReassigned(tasks, 'undelivered'),
  });
  const recorder = new StatusRecorder({
    pool,
    logger,
    backoff: { baseMs: config.retryBackoffBaseMs, maxMs: config.retryBackoffMaxMs },
    onRecorded: (update, outcome) => {
      observeReport(update, outcome);
      if (outcome.applied) {
        const fields = { task_id: update.task_id, attempt: update.attempt, worker_id: update.worker_id, status: update.status };
        if (outcome.final) logger.info(fields, 'task failed on its last attempt');
        else logger.debug(fields, 'task status recorded');
      }
      // A finished report frees the slot of that attempt whether or not it applied: its worker is done with
      // it. The recorder names the worker (the one the attempt was sent to, or the reporter); a report from
      // nobody it knows frees nothing, rather than another worker's newer attempt of the same task.
      if (update.status !== 'STARTED' && outcome.workerId !== null) {
        registry.unassign(outcome.workerId, update.task_id, update.attempt);
        dispatcher.capacityChanged();
      }
      if (outcome.applied && update.status === 'FAILED' && !outcome.final) dispatcher.wake();
    },
  });
  const sweeper = new Sweeper({
    pool,
    registry,
    logger,
    coordinatorId,
    evictionCheckMs: Math.min(1000, config.heartbeatIntervalMs),
    leaseCheckMs: Math.min(5000, config.leaseMs),
    retention: config.retention,
    onHandedBack: (tasks, reason) => {
      observeReassigned(tasks, reason);
      dispatcher.wake();
    },
    onEvicted: observeEviction,
  });

  const heartbeat = heartbeatHandler({
    pool, logger, registry, sweeper, clients, coordinatorId,
    leaseMs: config.leaseMs,
    heartbeatIntervalMs: config.heartbeatIntervalMs,
    holdingsGraceMs: config.holdingsGraceMs,
    wake: () => dispatcher.capacityChanged(),
    onHandedBack: (tasks) => {
      observeReassigned(tasks, 'undelivered');
      dispatcher.wake();
    },
  });

  // Checked before anything listens: plaintext on a reachable address must be asked for (GRPC_INSECURE).
  const grpc: Partial<GrpcConfig> = deps.grpc ?? {};
  const { listeners, warning, notice } = grpcListeners({ tls: grpc.tls, insecure: grpc.insecure ?? false, bindHost: deps.host, port: config.port, plaintextPort: config.plaintextPort });
  if (warning) logger.warn(warning);
  if (notice) logger.info(notice);
  const tokens = new BearerTokens(config.apiTokens ?? []);
  const servers: GrpcServer[] = [];
  let listener: Listener | undefined;
  try {
    for (const port of listeners) {
      servers.push(await startGrpcServer({
        host: deps.host,
        port: port.port,
        service: grpcApi().CoordinatorService.service,
        implementation: coordinatorService({
          pool, logger, registry, recorder, heartbeat, keyTtlMs: config.idempotencyKeyTtlMs, access: { secure: port.secure, tokens },
        }),
        serviceName: 'grpcapi.CoordinatorService',
        credentials: serverCredentials(grpc.tls, port),
        maxMessageBytes: grpc.maxMessageBytes,
      }));
    }
    listener = listen(deps.database, ['taskmaster_tasks', 'taskmaster_cancels', 'taskmaster_schedules', 'taskmaster_gates'], (channel, payload) => {
      if (channel === 'taskmaster_tasks') return dispatcher.wake();
      if (channel === 'taskmaster_gates') return dispatcher.gatesChanged();
      if (channel === 'taskmaster_schedules') return ticker.wake();
      // A cancelled attempt held by one of this coordinator's workers: stop it there now (task-stops.ts).
      const cancelled = parseCancelNotice(payload);
      if (cancelled && stopAttempts(registry, [cancelled], `cancelled: ${cancelled.reason}`, logger) > 0) dispatcher.capacityChanged();
    }, logger);
  } catch (err) {
    await Promise.all(servers.map((server) => server.shutdown(0)));
    throw err;
  }
  dispatcher.start();
  sweeper.start();
  timeouts.start();
  ticker.start();
  const stopWatchingWorkers = watchWorkers(registry);
  const queueSampler = sampleQueue({ pool, logger, intervalMs: config.pollIntervalMs, workers: registry });
  const [main, plaintext] = servers;
  logger.info({ port: main.port, tls: grpc.tls !== undefined, plaintext_port: plaintext?.port }, 'coordinator listening');

  const taskListener = listener;
  return {
    port: main.port,
    plaintextPort: plaintext?.port,
    registry,
    async stop() {
      stopWatchingWorkers();
      await queueSampler.stop();
      await taskListener.close();
      await dispatcher.stop();
      await sweeper.stop();
      await timeouts.stop();
      await ticker.stop();
      await Promise.all(servers.map((server) => server.shutdown()));
      clients.closeAll();
    },
  };
}
