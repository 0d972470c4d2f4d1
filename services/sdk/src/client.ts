import { TaskMasterApiError, TaskPayloadError, TaskWaitTimeoutError } from './http/errors';
import type {
  BulkRequest, BulkResponse, CancelRequest, ConcurrencyLimitList, ConcurrencyLimitRequest, ConcurrencyLimitView, CronScheduleList, CronScheduleRequest,
  CronScheduleView, ErrorBody, JsonValue, QueueControlsRequest, QueueList, QueueView, RetryPolicy, TaskBatchResponse, TaskPage, TaskRequest, TaskStatus,
  TaskView,
} from './http/schemas';
import type { StandardSchemaV1 } from './standard-schema';

/**
 * The producer's side of TaskMaster: enqueue tasks on the scheduler's HTTP API and read or await them. Request
 * and response types are the API's own schemas (http/schemas.ts). Uses the global fetch (Node 20 and later).
 */

/**
 * What enqueue needs of a task definition (defineTask's value fits): its name, optional queue and schema, and
 * its handler, which only carries the payload and result types so that a wrong payload is a compile error.
 * P is the payload the handler gets, I what the producer passes: the schema's input, when it has defaults.
 */
export interface TaskRef<P = unknown, R = unknown, I = P> {
  readonly name: string;
  readonly queue?: string;
  readonly schema?: StandardSchemaV1<I, P>;
  /** Defaults for tasks enqueued with this definition (EnqueueOptions wins). */
  readonly maxAttempts?: number;
  readonly retry?: RetryPolicy;
  readonly run?: (payload: P, ctx: never) => R | Promise<R>;
}

/** A task as the API shows it, with `id`, the result typed as the task's, and `error` for last_error. */
export type Task<R = JsonValue> = Omit<TaskView, 'result'> & {
  /** The task id (task_id). */
  readonly id: string;
  /** The handler's JSON result, once the task succeeded. */
  readonly result?: R;
  /** The last attempt's error message, when an attempt failed; for a cancelled task, why it was cancelled. */
  readonly error?: string;
};

export interface TaskMasterClientOptions {
  /** The scheduler's URL; default "http://localhost:8081". */
  url?: string;
  /** The scheduler's API_TOKEN, sent as "Authorization: Bearer <token>"; default none. */
  token?: string;
  /** How long one request may take; default 30 s. */
  requestTimeoutMs?: number;
}

export interface EnqueueOptions {
  /** When the task is due (a Date or an ISO-8601 string); default now. Not together with `delay`. */
  runAt?: Date | string;
  /** Milliseconds from now until the task is due; default 0. Not together with `runAt`. */
  delay?: number;
  /** A second enqueue with the same key returns the first task instead of creating another. */
  idempotencyKey?: string;
  /** Higher runs first among due tasks, each point counting as a minute of waiting (so none starves); -1000 to 1000, default 0. */
  priority?: number;
  /** Default the definition's queue, else "default". */
  queue?: string;
  /**
   * Seconds an attempt may run before its worker aborts it (ctx.signal, a TimeoutError) and reports it failed;
   * 1 to 604800. Default: the task type's `timeoutSeconds`, else the worker's default, else none.
   */
  timeoutSeconds?: number;
  /** Executions allowed before the task fails for good; 1 to 100. Default the definition's, else 3. */
  maxAttempts?: number;
  /** How long a failed attempt waits before the next. Default the definition's, else the coordinator's. */
  retry?: RetryPolicy;
}

export interface ListFilters {
  /** One status or several; "active" means dispatched or running. */
  status?: TaskStatus | 'active' | 'completed' | ReadonlyArray<TaskStatus | 'active' | 'completed'>;
  name?: string;
  queue?: string;
  /** 1 to 500, default 50. */
  limit?: number;
  /** nextCursor of the previous page. */
  cursor?: string;
  /** By due time; default "desc". */
  order?: 'asc' | 'desc';
}

export interface WaitOptions {
  /** Give up (TaskWaitTimeoutError) after this long; default never. */
  timeoutMs?: number;
  /** Stop waiting when aborted (rejects with the signal's reason). */
  signal?: AbortSignal;
  /** The longest pause between two polls; default 2 s. The first is 100 ms, growing by half each time. */
  maxPollIntervalMs?: number;
}

const TERMINAL: ReadonlySet<string> = new Set<TaskStatus>(['succeeded', 'failed', 'cancelled']);

export class TaskMasterClient {
  readonly url: string;
  private readonly token: string | undefined;
  private readonly requestTimeoutMs: number;

  constructor(options: TaskMasterClientOptions = {}) {
    this.url = (options.url ?? 'http://localhost:8081').replace(/\/+$/, '');
    this.token = options.token;
    this.requestTimeoutMs = options.requestTimeoutMs ?? 30_000;
  }

  /** Enqueues one task; resolves with it as created (or as found by its idempotency key). */
  enqueue<P, R, I = P>(task: TaskRef<P, R, I>, payload: NoInfer<I>, options?: EnqueueOptions): Promise<Task<Awaited<R>>>;
  /** By name: any JSON-serialisable payload (the server checks it; an interface type need not be a JsonValue). */
  enqueue(name: string, payload?: unknown, options?: EnqueueOptions): Promise<Task>;
  async enqueue(task: TaskRef | string, payload?: unknown, options: EnqueueOptions = {}): Promise<Task<unknown>> {
    const body = await this.taskRequest(task, payload, options);
    return toTask(await this.request<TaskView>('POST', '/api/tasks', body));
  }

  /**
   * Enqueues up to 1,000 tasks of one type in one request: all are created, or none is (the error names the
   * first bad one, such as tasks[3].payload). The options apply to every task.
   */
  enqueueMany<P, R, I = P>(task: TaskRef<P, R, I>, payloads: ReadonlyArray<NoInfer<I>>, options?: Omit<EnqueueOptions, 'idempotencyKey'>): Promise<Task<Awaited<R>>[]>;
  enqueueMany(name: string, payloads: ReadonlyArray<unknown>, options?: Omit<EnqueueOptions, 'idempotencyKey'>): Promise<Task[]>;
  async enqueueMany(task: TaskRef | string, payloads: ReadonlyArray<unknown>, options: Omit<EnqueueOptions, 'idempotencyKey'> = {}): Promise<Task<unknown>[]> {
    const tasks = await Promise.all(payloads.map((payload) => this.taskRequest(task, payload, options)));
    const response = await this.request<TaskBatchResponse>('POST', '/api/tasks/batch', { tasks });
    return response.tasks.map(toTask);
  }

  /** One task, with its payload and (once succeeded) result. */
  async get<R = JsonValue>(id: string): Promise<Task<R>> {
    return toTask<R>(await this.request<TaskView>('GET', `/api/tasks/${encodeURIComponent(id)}`));
  }

  /** A page of tasks, newest first unless `order` says otherwise; pass nextCursor back for the next page. */
  async list(filters: ListFilters = {}): Promise<{ tasks: Task[]; nextCursor: string | null }> {
    const query = new URLSearchParams();
    const status = typeof filters.status === 'string' ? [filters.status] : filters.status;
    if (status && status.length > 0) query.set('status', status.join(','));
    for (const key of ['name', 'queue', 'cursor', 'order'] as const) {
      const value = filters[key];
      if (value !== undefined) query.set(key, value);
    }
    if (filters.limit !== undefined) query.set('limit', String(filters.limit));
    const page = await this.request<TaskPage>('GET', `/api/tasks${query.size > 0 ? `?${query}` : ''}`);
    return { tasks: page.tasks.map(toTask), nextCursor: page.next_cursor };
  }

  /**
   * Resolves once the task is succeeded, failed (for good) or cancelled, with the task then. Polls
   * GET /api/tasks/:id, quickly at first and at most every maxPollIntervalMs.
   */
  wait<R>(task: Task<R>, options?: WaitOptions): Promise<Task<R>>;
  wait<R = JsonValue>(id: string, options?: WaitOptions): Promise<Task<R>>;
  async wait(task: string | Task<unknown>, options: WaitOptions = {}): Promise<Task<unknown>> {
    const id = typeof task === 'string' ? task : task.id;
    const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
    const maxPause = options.maxPollIntervalMs ?? 2000;
    let pause = 100;
    for (;;) {
      options.signal?.throwIfAborted();
      const current = await this.get<unknown>(id);
      if (TERMINAL.has(current.status)) return current;
      const left = deadline - Date.now();
      if (left <= 0) throw new TaskWaitTimeoutError(id, options.timeoutMs ?? 0);
      await sleep(Math.min(pause, left), options.signal);
      pause = Math.min(pause * 1.5, maxPause);
    }
  }

  /**
   * Cancels a task that has not finished: a pending one is never run, a running one is stopped on its worker
   * (its ctx.signal aborts). 409 conflict once it has finished. The reason shows in the task's timeline.
   */
  async cancel(id: string, options: { reason?: string } = {}): Promise<Task> {
    const body: CancelRequest = options.reason === undefined ? {} : { reason: options.reason };
    return toTask(await this.request<TaskView>('POST', `/api/tasks/${encodeURIComponent(id)}/cancel`, body));
  }

  /** Runs a failed or cancelled task again (409 conflict otherwise). */
  async retry(id: string): Promise<Task> {
    return toTask(await this.request<TaskView>('POST', `/api/tasks/${encodeURIComponent(id)}/retry`));
  }

  /**
   * Cancels, retries or deletes every task the filter matches (docs/api.md, "Bulk actions"), a chunk of
   * `chunk` tasks per request until none is left; `onProgress` hears the running total. Resolves with the total.
   * Each action keeps to the states it applies to (cancel: not finished; retry: failed or cancelled; delete:
   * finished).
   */
  async bulk(action: BulkRequest['action'], filter: BulkRequest['filter'], options: { reason?: string; chunk?: number; onProgress?: (done: number) => void } = {}): Promise<number> {
    let done = 0;
    for (;;) {
      const body: BulkRequest = { action, filter, limit: options.chunk ?? 1000 };
      if (options.reason !== undefined) body.reason = options.reason;
      const answer = await this.request<BulkResponse>('POST', '/api/tasks/bulk', body);
      done += answer.affected;
      options.onProgress?.(done);
      // A chunk that changed nothing ends it too: what still matches is locked by others right now.
      if (!answer.more || answer.affected === 0) return done;
    }
  }

  /** How many tasks a bulk action would apply to now (it changes nothing). */
  async bulkCount(action: BulkRequest['action'], filter: BulkRequest['filter']): Promise<number> {
    return (await this.request<BulkResponse>('POST', '/api/tasks/bulk', { action, filter, dry_run: true } satisfies BulkRequest)).matched ?? 0;
  }

  /**
   * Creates a recurring schedule (docs/schedules.md); with a `key` that exists, updates that schedule in place,
   * so code or Git can declare schedules idempotently.
   */
  async createSchedule(schedule: CronScheduleRequest): Promise<CronScheduleView> {
    return this.request<CronScheduleView>('POST', '/api/schedules', schedule);
  }

  async listSchedules(): Promise<CronScheduleView[]> {
    return (await this.request<CronScheduleList>('GET', '/api/schedules')).schedules;
  }

  /** One schedule, with its next five occurrences (`next_runs`). */
  async getSchedule(id: string): Promise<CronScheduleView> {
    return this.request<CronScheduleView>('GET', `/api/schedules/${encodeURIComponent(id)}`);
  }

  async pauseSchedule(id: string): Promise<CronScheduleView> {
    return this.request<CronScheduleView>('POST', `/api/schedules/${encodeURIComponent(id)}/pause`);
  }

  /** Resumes from the next occurrence; those that fell in the pause are not caught up. */
  async resumeSchedule(id: string): Promise<CronScheduleView> {
    return this.request<CronScheduleView>('POST', `/api/schedules/${encodeURIComponent(id)}/resume`);
  }

  /** Deletes a schedule; the tasks it made stay. */
  async deleteSchedule(id: string): Promise<void> {
    await this.request<undefined>('DELETE', `/api/schedules/${encodeURIComponent(id)}`);
  }

  /** The body of POST /api/tasks for one task; the definition's schema is checked first, and its output sent. */
  /** The queues with controls (docs/queues.md); a queue without any is not listed. */
  async listQueues(): Promise<QueueView[]> {
    return (await this.request<QueueList>('GET', '/api/queues')).queues;
  }

  /**
   * Sets a named queue's controls: `paused`, `max_running`, `max_per_second`; a field left out stays as it is,
   * null removes a limit. The first control of a queue gates its backlog once.
   */
  async setQueue(queue: string, controls: QueueControlsRequest): Promise<QueueView> {
    return this.request<QueueView>('PUT', `/api/queues/${encodeURIComponent(queue)}`, controls);
  }

  async pauseQueue(queue: string): Promise<QueueView> {
    return this.request<QueueView>('POST', `/api/queues/${encodeURIComponent(queue)}/pause`);
  }

  async resumeQueue(queue: string): Promise<QueueView> {
    return this.request<QueueView>('POST', `/api/queues/${encodeURIComponent(queue)}/resume`);
  }

  /** Removes every control of a queue. */
  async resetQueue(queue: string): Promise<void> {
    await this.request<undefined>('DELETE', `/api/queues/${encodeURIComponent(queue)}`);
  }

  async listConcurrencyLimits(): Promise<ConcurrencyLimitView[]> {
    return (await this.request<ConcurrencyLimitList>('GET', '/api/concurrency-limits')).limits;
  }

  /**
   * Limits a task type's tasks in flight per key: `key` names a payload field (a dot path), `max_running` how
   * many tasks of one key may be in flight at once. The type's unfinished tasks are keyed at once.
   */
  async setConcurrencyLimit(name: string, limit: ConcurrencyLimitRequest): Promise<ConcurrencyLimitView> {
    return this.request<ConcurrencyLimitView>('PUT', `/api/concurrency-limits/${encodeURIComponent(name)}`, limit);
  }

  async removeConcurrencyLimit(name: string): Promise<void> {
    await this.request<undefined>('DELETE', `/api/concurrency-limits/${encodeURIComponent(name)}`);
  }

  private async taskRequest(task: TaskRef | string, payload: unknown, options: EnqueueOptions): Promise<TaskRequest> {
    const definition: TaskRef = typeof task === 'string' ? { name: task } : task;
    let value = payload;
    if (definition.schema) {
      const result = await definition.schema['~standard'].validate(payload);
      if (result.issues) throw new TaskPayloadError(definition.name, result.issues);
      value = result.value;
    }
    if (options.runAt !== undefined && options.delay !== undefined) {
      throw new TaskMasterApiError(0, 'invalid_argument', 'give runAt or delay, not both', 'delay_seconds');
    }
    const body: TaskRequest = { name: definition.name };
    if (value !== undefined) body.payload = value as JsonValue;
    const queue = options.queue ?? definition.queue;
    if (queue !== undefined) body.queue = queue;
    if (options.runAt !== undefined) body.scheduled_at = options.runAt instanceof Date ? options.runAt.toISOString() : options.runAt;
    if (options.delay !== undefined) body.delay_seconds = options.delay / 1000;
    if (options.priority !== undefined) body.priority = options.priority;
    const maxAttempts = options.maxAttempts ?? definition.maxAttempts;
    if (maxAttempts !== undefined) body.max_attempts = maxAttempts;
    const retry = options.retry ?? definition.retry;
    if (retry !== undefined) body.retry = retry;
    if (options.timeoutSeconds !== undefined) body.timeout_seconds = options.timeoutSeconds;
    if ('idempotencyKey' in options && options.idempotencyKey !== undefined) body.idempotency_key = options.idempotencyKey;
    return body;
  }

  private async request<T>(method: 'GET' | 'POST' | 'PUT' | 'DELETE', path: string, body?: unknown): Promise<T> {
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    if (this.token) headers.authorization = `Bearer ${this.token}`;
    let response: Response;
    try {
      response = await fetch(this.url + path, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.requestTimeoutMs),
      });
    } catch (err) {
      const timedOut = (err as Error).name === 'TimeoutError';
      throw new TaskMasterApiError(0, timedOut ? 'timeout' : 'network_error',
        timedOut ? `${method} ${this.url}${path} took longer than ${this.requestTimeoutMs} ms` : `cannot reach ${this.url}: ${describeCause(err)}`);
    }
    const text = await response.text();
    let parsed: unknown;
    try {
      parsed = text === '' ? undefined : JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    if (!response.ok) {
      const error = (parsed as Partial<ErrorBody> | undefined)?.error;
      throw new TaskMasterApiError(response.status, error?.code ?? 'http_error',
        error?.message ?? `${method} ${path} answered ${response.status} ${text.slice(0, 200)}`.trim(), error?.field);
    }
    if (response.status === 204) return undefined as T;
    if (parsed === undefined) throw new TaskMasterApiError(response.status, 'invalid_response', `${method} ${path} did not answer JSON`);
    return parsed as T;
  }
}

function toTask<R = JsonValue>(view: TaskView): Task<R> {
  return { ...view, id: view.task_id, ...(view.last_error !== undefined ? { error: view.last_error } : {}) } as Task<R>;
}

function describeCause(err: unknown): string {
  const cause = (err as { cause?: { code?: string; message?: string } }).cause;
  return cause?.code ?? cause?.message ?? (err as Error).message;
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const done = () => {
      signal?.removeEventListener('abort', aborted);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const aborted = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
