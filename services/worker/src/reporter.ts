import { setTimeout as sleep } from 'node:timers/promises';
import * as grpc from '@grpc/grpc-js';
import type { Logger } from '../../common/src/logger';
import type {
  CoordinatorServiceClient, UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse, UpdateTaskStatusRequest,
  UpdateTaskStatusResponse,
} from '../../common/src/grpc/contract';
import { RequestStream } from '../../common/src/grpc/request-stream';

const MAX_BATCH = 1000;

/** A report as the worker builds it: the fields of its status, the rest left to proto defaults. */
export type StatusUpdate = Pick<UpdateTaskStatusRequest, 'task_id' | 'status' | 'attempt' | 'worker_id' | 'at_ms'> &
  Partial<UpdateTaskStatusRequest>;

/**
 * Sends status reports to the coordinator in batches over one stream (StreamTaskStatuses; UpdateTaskStatuses
 * calls to a coordinator without it; one UpdateTaskStatus call per report to an original coordinator, which
 * has neither: splitReports), one batch at a time so that a task's STARTED always reaches the
 * coordinator before its COMPLETE. A failed call is retried with backoff,
 * with the same reports in the same order, until it gets through: a report is never dropped because the
 * coordinator was briefly away. Reports the coordinator refuses (a stale attempt) are logged and dropped:
 * the task belongs to a newer attempt elsewhere.
 *
 * A task that finishes while its STARTED is still waiting here sends one report instead of two: the COMPLETE
 * or FAILED takes the STARTED's place in the queue and carries its time as started_at_ms, and the database
 * writes one row version instead of two (the 'started' event is still recorded, by the trigger of
 * migration 0004). docs/performance.md has the effect on throughput.
 */
export class StatusReporter {
  private queue: StatusUpdate[] = [];
  /** STARTED reports queued but not yet taken into a call, by task id. */
  private readonly unsentStarts = new Map<string, StatusUpdate>();
  private sending: Promise<void> | undefined;
  private closed = false;
  private readonly stream: RequestStream<UpdateTaskStatusBatchRequest, UpdateTaskStatusBatchResponse, UpdateTaskStatusRequest, UpdateTaskStatusResponse>;

  constructor(
    client: CoordinatorServiceClient,
    private readonly logger: Logger,
    private readonly timeoutMs = 10_000,
  ) {
    this.stream = new RequestStream(client, {
      name: 'StreamTaskStatuses',
      stream: client.StreamTaskStatuses,
      unary: client.UpdateTaskStatuses,
      single: { method: client.UpdateTaskStatus, split: splitReports, join: joinReports, refused: refusedReport },
    });
  }

  report(update: StatusUpdate): void {
    if (update.status === 'STARTED') {
      this.unsentStarts.set(update.task_id, update);
    } else {
      const started = this.unsentStarts.get(update.task_id);
      if (started?.attempt === update.attempt) {
        this.unsentStarts.delete(update.task_id);
        Object.assign(started, update, { started_at_ms: started.at_ms });
        return;
      }
    }
    this.queue.push(update);
    this.sending ??= this.drainQueue().finally(() => {
      this.sending = undefined;
    });
  }

  /** Resolves when every queued report was sent, or after `timeoutMs`; then stops retrying. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while ((this.sending || this.queue.length > 0) && Date.now() < deadline) await sleep(10);
    const flushed = !this.sending && this.queue.length === 0;
    this.closed = true;
    this.stream.close();
    return flushed;
  }

  private async drainQueue(): Promise<void> {
    // One turn of the event loop before the first call lets tasks that finish at once (a SubmitTasks batch
    // of no-op tasks finishes within the same turn) fold their STARTED into their COMPLETE.
    await new Promise((resolve) => setImmediate(resolve));
    for (let failures = 0; this.queue.length > 0 && !this.closed; ) {
      const batch = this.queue.slice(0, MAX_BATCH);
      for (const update of batch) if (this.unsentStarts.get(update.task_id) === update) this.unsentStarts.delete(update.task_id);
      try {
        const response = await this.stream.call({ updates: batch as UpdateTaskStatusRequest[] }, this.timeoutMs);
        this.queue.splice(0, batch.length);
        failures = 0;
        response.results.forEach((result, i) => {
          if (!result.success) {
            this.logger.warn({ task_id: batch[i].task_id, attempt: batch[i].attempt, status: batch[i].status, reason: result.message }, 'status report not applied');
          }
        });
      } catch (err) {
        failures++;
        if (failures === 1 || failures % 20 === 0) {
          this.logger.warn({ err: (err as Error).message, pending: this.queue.length }, 'cannot reach the coordinator to report status; retrying');
        }
        await sleep(Math.min(2000, 50 * 2 ** Math.min(failures, 6)));
      }
    }
  }
}

/**
 * The one-report calls that stand for a batch, for a coordinator that knows only UpdateTaskStatus. A finish
 * that carries its STARTED folded in (started_at_ms) goes as two reports again, STARTED first: the original
 * coordinator records started_at only from a STARTED report.
 */
export function splitReports(batch: Partial<UpdateTaskStatusBatchRequest>): Partial<UpdateTaskStatusRequest>[] {
  return (batch.updates ?? []).flatMap((update) => {
    if (update.status === 'STARTED' || !update.started_at_ms) return [update];
    const at = update.started_at_ms;
    const started = { task_id: update.task_id, status: 'STARTED' as const, started_at: Math.floor(at / 1000), at_ms: at, worker_id: update.worker_id, attempt: update.attempt };
    return [started, { ...update, started_at_ms: 0 }];
  });
}

/** A report the coordinator judged alone (bad, unknown or stale) is dropped like a refused batch item; any other error retries. */
function refusedReport(err: grpc.ServiceError): UpdateTaskStatusResponse | undefined {
  const alone = [grpc.status.INVALID_ARGUMENT, grpc.status.NOT_FOUND, grpc.status.FAILED_PRECONDITION];
  return alone.includes(err.code) ? { success: false, message: err.details } : undefined;
}

/** One result per report of the batch from the answers to splitReports' calls: failed if any part failed. */
export function joinReports(batch: Partial<UpdateTaskStatusBatchRequest>, responses: UpdateTaskStatusResponse[]): UpdateTaskStatusBatchResponse {
  let next = 0;
  const results = (batch.updates ?? []).map((update) => {
    const parts = responses.slice(next, (next += update.status === 'STARTED' || !update.started_at_ms ? 1 : 2));
    return parts.find((part) => !part.success) ?? parts[parts.length - 1];
  });
  return { results };
}
