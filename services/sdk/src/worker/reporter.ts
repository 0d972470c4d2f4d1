import { setTimeout as sleep } from 'node:timers/promises';
import type { UpdateTaskStatusBatchRequest } from '../generated/grpcapi/UpdateTaskStatusBatchRequest';
import type { UpdateTaskStatusBatchResponse__Output } from '../generated/grpcapi/UpdateTaskStatusBatchResponse';
import type { UpdateTaskStatusRequest } from '../generated/grpcapi/UpdateTaskStatusRequest';
import type { Logger } from '../logger';

const MAX_BATCH = 1000;
/**
 * What one batch may carry, well under the coordinator's 4 MiB message limit: a report's size is bounded from
 * above by its text's length times 3 (UTF-8 bytes per UTF-16 unit), so no text is scanned to measure it.
 * A single report larger than this still goes, alone (the coordinator caps a result at 1M characters).
 */
export const MAX_BATCH_BYTES = 3 * 1024 * 1024;
const REPORT_OVERHEAD_BYTES = 128;

function sizeBound(update: StatusUpdate): number {
  return REPORT_OVERHEAD_BYTES + 3 * ((update.result?.length ?? 0) + (update.error?.length ?? 0));
}

/** How many reports from the head of `queue` go in the next batch: up to MAX_BATCH of them and MAX_BATCH_BYTES, at least one. */
export function nextBatchSize(queue: readonly StatusUpdate[]): number {
  let bytes = 0;
  let count = 0;
  while (count < queue.length && count < MAX_BATCH) {
    bytes += sizeBound(queue[count]);
    if (count > 0 && bytes > MAX_BATCH_BYTES) break;
    count++;
  }
  return count;
}

/** A report as the worker builds it. */
export type StatusUpdate = Required<Pick<UpdateTaskStatusRequest, 'task_id' | 'status' | 'attempt' | 'worker_id' | 'at_ms'>> &
  UpdateTaskStatusRequest;

/**
 * Sends status reports in batches, one batch at a time, so a task's STARTED always reaches the coordinator
 * before its COMPLETE. A batch that gets no answer (the stream broke) is sent again, the same reports in the
 * same order, once the connection is back: a report is never lost to a reconnect, and a duplicate is
 * harmless because the coordinator fences reports by attempt. Refused reports (a stale attempt) are dropped.
 *
 * A task that finishes while its STARTED is still waiting here sends one report instead of two: the COMPLETE
 * or FAILED takes the STARTED's place in the queue and carries its time as started_at_ms
 * (docs/performance.md has the effect on throughput).
 */
export class Reporter {
  private queue: StatusUpdate[] = [];
  private inFlight = 0;
  /** STARTED reports queued but not yet taken into a batch, by task id. */
  private readonly unsentStarts = new Map<string, StatusUpdate>();
  private sending: Promise<void> | undefined;
  private stopped = false;

  constructor(
    private readonly send: (request: UpdateTaskStatusBatchRequest) => Promise<UpdateTaskStatusBatchResponse__Output>,
    /** A final report (COMPLETE or FAILED) was answered. */
    private readonly onAcknowledged: (update: StatusUpdate) => void,
    private readonly logger: Logger,
  ) {}

  /** Reports queued or in flight. */
  get pending(): number {
    return this.queue.length + this.inFlight;
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
    this.sending ??= this.sendQueue().finally(() => {
      this.sending = undefined;
    });
  }

  /** Forgets the reports of an attempt not yet sent (the coordinator said to drop it). */
  discard(taskId: string, attempt: number): void {
    if (this.unsentStarts.get(taskId)?.attempt === attempt) this.unsentStarts.delete(taskId);
    this.queue = this.queue.filter((update) => update.task_id !== taskId || update.attempt !== attempt);
  }

  /** Resolves when every report was answered (true), or after `timeoutMs` (false); then stops sending. */
  async flush(timeoutMs: number): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (this.pending > 0 && Date.now() < deadline) await sleep(10);
    this.stopped = true;
    return this.pending === 0;
  }

  private async sendQueue(): Promise<void> {
    // One turn of the event loop first lets tasks that finish at once fold their STARTED into their finish.
    await new Promise((resolve) => setImmediate(resolve));
    for (let failures = 0; this.queue.length > 0 && !this.stopped; ) {
      const batch = this.queue.splice(0, nextBatchSize(this.queue));
      this.inFlight = batch.length;
      for (const update of batch) if (this.unsentStarts.get(update.task_id) === update) this.unsentStarts.delete(update.task_id);
      try {
        const response = await this.send({ updates: batch });
        this.inFlight = 0;
        failures = 0;
        batch.forEach((update, i) => {
          const result = response.results[i];
          if (result && !result.success) {
            this.logger.debug({ task_id: update.task_id, attempt: update.attempt, status: update.status, reason: result.message }, 'status report not applied');
          }
          if (update.status !== 'STARTED') this.onAcknowledged(update);
        });
      } catch {
        // Not answered: the connection is being re-opened; the same batch goes first on the next stream.
        this.queue.unshift(...batch);
        this.inFlight = 0;
        failures++;
        await sleep(Math.min(1000, 10 * 2 ** Math.min(failures, 7)));
      }
    }
  }
}
