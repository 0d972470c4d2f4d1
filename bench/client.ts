import http from 'node:http';
import type { BatchScheduleResponse, ScheduleResponse } from '../services/scheduler/src/api-types';

/** The scheduler's HTTP API as the bench uses it: keep-alive connections, JSON in and out. */
export class SchedulerClient {
  private readonly agent: http.Agent;

  constructor(private readonly baseUrl: string, maxSockets: number) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets });
  }

  /** POST /api/schedule/batch: `count` tasks of `command`, due after `delaySeconds`. Returns their ids. */
  async scheduleBatch(command: string, count: number, delaySeconds = 0): Promise<string[]> {
    const response = await this.post<BatchScheduleResponse>('/api/schedule/batch', { command, count, delay_seconds: delaySeconds });
    return response.task_ids;
  }

  /** POST /api/schedule: one task due now. */
  async scheduleOne(command: string): Promise<string> {
    const response = await this.post<ScheduleResponse>('/api/schedule', { command, scheduled_at: new Date().toISOString() });
    return response.task_id;
  }

  close(): void {
    this.agent.destroy();
  }

  /**
   * A request on a kept-alive socket that the server closed as it was reused fails with ECONNRESET before the
   * server read it; it is sent again once on a new socket, as Node's documentation advises (a loaded run once
   * crashed on one).
   */
  private async post<T>(path: string, body: unknown): Promise<T> {
    try {
      return await this.postOnce<T>(path, body);
    } catch (err) {
      if ((err as { staleSocket?: boolean }).staleSocket) return this.postOnce<T>(path, body);
      throw err;
    }
  }

  private postOnce<T>(path: string, body: unknown): Promise<T> {
    const payload = JSON.stringify(body);
    return new Promise((resolve, reject) => {
      const request = http.request(`${this.baseUrl}${path}`, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if ((response.statusCode ?? 0) >= 300) reject(new Error(`POST ${path}: ${response.statusCode} ${text}`));
          else resolve(JSON.parse(text) as T);
        });
        response.on('error', reject);
      });
      request.on('error', (err: NodeJS.ErrnoException) => {
        reject(Object.assign(err, { staleSocket: request.reusedSocket && err.code === 'ECONNRESET' }));
      });
      request.end(payload);
    });
  }
}

/**
 * Submits `total` tasks of `command` in 1,000-task batch requests, `concurrency` requests in flight. Returns
 * the ids in submission order and when the last request was answered.
 */
export async function submitInBatches(
  client: SchedulerClient,
  total: number,
  concurrency: number,
  delaySeconds = 0,
  command = 'noop',
): Promise<{ ids: string[]; doneAtMs: number }> {
  const batches = Array.from({ length: Math.ceil(total / 1000) }, (_, i) => Math.min(1000, total - i * 1000));
  const results: string[][] = new Array(batches.length);
  let next = 0;
  const lane = async () => {
    while (next < batches.length) {
      const index = next++;
      results[index] = await client.scheduleBatch(command, batches[index], delaySeconds);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, batches.length) }, lane));
  return { ids: results.flat(), doneAtMs: Date.now() };
}
