import { vi } from 'vitest';
import type { ErrorBody, EventView, StatsView, TaskView, WorkerView, WorkersResponse } from '../../services/scheduler/src/api-types';

export interface Reply {
  status?: number;
  body: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  body: unknown;
  headers: Record<string, string>;
}

type Handler = (request: RecordedRequest) => Reply | unknown;

/**
 * The scheduler's HTTP API as the browser sees it, for component tests: routes answer with the same typed
 * shapes (api-types.ts) and error bodies the real routes send; every request is recorded. The end-to-end
 * test in test/e2e/ runs the dashboard against the real scheduler.
 */
export class FakeApi {
  readonly requests: RecordedRequest[] = [];
  private readonly routes = new Map<string, Handler>();

  constructor() {
    this.on('GET /api/stats', () => stats());
    this.on('GET /api/tasks', () => ({ tasks: [], next_cursor: null }));
    this.on('GET /api/workers', () => workers([]));
  }

  /** Answers "METHOD /path" (path without query; :id matches one segment). A handler returning {status, body} sets the status. */
  on(route: string, handler: Handler): this {
    this.routes.set(route, handler);
    return this;
  }

  requestsTo(route: string): RecordedRequest[] {
    return this.requests.filter((r) => `${r.method} ${r.path}` === route || matches(route, r));
  }

  install(): this {
    vi.stubGlobal('fetch', async (input: string, init: RequestInit = {}) => {
      const url = new URL(input, 'http://dashboard.test');
      const method = init.method ?? 'GET';
      const request: RecordedRequest = {
        method,
        path: url.pathname,
        query: url.searchParams,
        body: typeof init.body === 'string' ? JSON.parse(init.body) : undefined,
        headers: (init.headers ?? {}) as Record<string, string>,
      };
      this.requests.push(request);
      const handler = [...this.routes.entries()].find(([route]) => matches(route, request))?.[1];
      const reply = handler ? handler(request) : { status: 404, body: apiError('not_found', `no route ${method} ${url.pathname}`) };
      const { status, body } = isReply(reply) ? { status: reply.status ?? 200, body: reply.body } : { status: 200, body: reply };
      return new Response(JSON.stringify(body), { status, headers: { 'Content-Type': 'application/json' } });
    });
    return this;
  }
}

function isReply(value: unknown): value is Reply {
  return typeof value === 'object' && value !== null && 'body' in value && Object.keys(value).every((k) => k === 'status' || k === 'body');
}

function matches(route: string, request: RecordedRequest): boolean {
  const [method, path] = route.split(' ');
  if (method !== request.method) return false;
  const want = path.split('/');
  const got = request.path.split('/');
  return want.length === got.length && want.every((part, i) => part.startsWith(':') || part === got[i]);
}

export function apiError(code: string, message: string, field?: string): ErrorBody {
  return { error: { code, message, ...(field ? { field } : {}) } };
}

export function stats(overrides: Partial<StatsView> = {}): StatsView {
  return {
    pending: 0, dispatched: 0, running: 0, completed: 0, failed: 0, cancelled: 0, total: 0,
    workers: 0, slots_total: 0, slots_busy: 0, coordinator_reachable: true, unhandled: [], ...overrides,
  };
}

let taskSequence = 0;

export function task(overrides: Partial<TaskView> = {}): TaskView {
  const n = ++taskSequence;
  const id = `${String(n).padStart(8, '0')}-0000-4000-8000-000000000000`;
  return {
    task_id: id, name: null, queue: 'default', command: 'demo-job', status: 'pending', attempt: 0, executions: 0, max_attempts: 3, priority: 0, worker_id: null,
    scheduled_at: '2026-01-27T12:00:00.000Z', created_at: '2026-01-27T12:00:00.000Z', updated_at: '2026-01-27T12:00:00.000Z',
    ...overrides,
  };
}

export function worker(name: string, overrides: Partial<WorkerView> = {}): WorkerView {
  return {
    name, worker_id: 1000 + Number(name.replace(/\D/g, '') || 0), address: '127.0.0.1:5000', state: 'alive',
    slots_total: 5, slots_busy: 0, in_flight: 0, last_heartbeat_at: new Date().toISOString(), heartbeat_misses: 0,
    runtime: { phase: 'running', ready: true, pid: 4242 }, ...overrides,
  };
}

export function workers(list: WorkerView[], scaler: Partial<WorkersResponse['scaler']> = {}): WorkersResponse {
  return { workers: list, scaler: { kind: 'local', desired: list.length, actual: list.length, ...scaler }, coordinator_reachable: true };
}

let eventSequence = 0;

export function event(overrides: Partial<EventView> = {}): EventView {
  return { id: ++eventSequence, at: new Date().toISOString(), type: 'scheduled', message: 'task scheduled', ...overrides };
}
