import type {
  BatchScheduleResponse, BulkRequest, BulkResponse, ConcurrencyLimitList, ConcurrencyLimitRequest, ConcurrencyLimitView, CronScheduleList, CronScheduleRequest,
  CronScheduleView, KillResponse, QueueControlsRequest, QueueList, QueueView, ScaleResponse, ScheduleResponse, StatsView, TaskEvents, TaskPage, TaskView,
  WorkersResponse,
} from '../../../services/scheduler/src/api-types';
import { request } from './client';

/** GET /api/tasks/:id/events */
export type TaskTimeline = TaskEvents;

export interface TaskQuery {
  /** Comma-separated statuses the API accepts (pending, active, succeeded, failed, cancelled…); empty for all. */
  status?: string;
  /** A task id, or a command prefix. */
  q?: string;
  /** Only tasks of this name (task type), and only tasks in this queue. */
  name?: string;
  queue?: string;
  limit?: number;
  cursor?: string;
  order?: 'asc' | 'desc';
}

function queryString(params: Record<string, string | number | undefined>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
}

const taskPath = (id: string, rest = '') => `/api/tasks/${encodeURIComponent(id)}${rest}`;
const queuePath = (name: string, rest = '') => `/api/queues/${encodeURIComponent(name)}${rest}`;
const limitPath = (name: string) => `/api/concurrency-limits/${encodeURIComponent(name)}`;

export const api = {
  stats: (signal?: AbortSignal) => request<StatsView>('GET', '/api/stats', undefined, signal),
  /** A ticket that opens the event stream for a minute: EventSource cannot send the token as a header. */
  streamTicket: () => request<{ ticket: string; expires_at: string }>('POST', '/api/logs/ticket'),
  tasks: (query: TaskQuery, signal?: AbortSignal) =>
    request<TaskPage>('GET', `/api/tasks${queryString({ ...query })}`, undefined, signal),
  taskTimeline: (id: string, signal?: AbortSignal) => request<TaskTimeline>('GET', taskPath(id, '/events'), undefined, signal),
  schedule: (command: string, scheduledAt: string) =>
    request<ScheduleResponse>('POST', '/api/schedule', { command, scheduled_at: scheduledAt }),
  scheduleBatch: (command: string, count: number, delaySeconds: number) =>
    request<BatchScheduleResponse>('POST', '/api/schedule/batch', { command, count, delay_seconds: delaySeconds }),
  cancel: (id: string) => request<TaskView>('POST', taskPath(id, '/cancel')),
  retry: (id: string) => request<TaskView>('POST', taskPath(id, '/retry')),
  workers: (signal?: AbortSignal) => request<WorkersResponse>('GET', '/api/workers', undefined, signal),
  /** Without a pool: the default one (the request then reads as before worker pools). */
  scale: (count: number, pool?: string) => request<ScaleResponse>('POST', '/api/workers/scale', pool === undefined ? { count } : { count, pool }),
  kill: (name: string, pool?: string) => request<KillResponse>('POST', '/api/workers/kill', pool === undefined ? { name } : { name, pool }),
  bulk: (body: BulkRequest) => request<BulkResponse>('POST', '/api/tasks/bulk', body),
  schedules: (signal?: AbortSignal) => request<CronScheduleList>('GET', '/api/schedules', undefined, signal),
  createSchedule: (schedule: CronScheduleRequest) => request<CronScheduleView>('POST', '/api/schedules', schedule),
  pauseSchedule: (id: string) => request<CronScheduleView>('POST', `/api/schedules/${encodeURIComponent(id)}/pause`),
  resumeSchedule: (id: string) => request<CronScheduleView>('POST', `/api/schedules/${encodeURIComponent(id)}/resume`),
  /** Resolves true once deleted (the API answers 204, no body). */
  deleteSchedule: async (id: string) => {
    await request<void>('DELETE', `/api/schedules/${encodeURIComponent(id)}`);
    return true;
  },
  queues: (signal?: AbortSignal) => request<QueueList>('GET', '/api/queues', undefined, signal),
  setQueue: (name: string, controls: QueueControlsRequest) => request<QueueView>('PUT', queuePath(name), controls),
  pauseQueue: (name: string) => request<QueueView>('POST', queuePath(name, '/pause')),
  resumeQueue: (name: string) => request<QueueView>('POST', queuePath(name, '/resume')),
  /** Resolves true once the controls are removed (204). */
  resetQueue: async (name: string) => {
    await request<void>('DELETE', queuePath(name));
    return true;
  },
  concurrencyLimits: (signal?: AbortSignal) => request<ConcurrencyLimitList>('GET', '/api/concurrency-limits', undefined, signal),
  setConcurrencyLimit: (name: string, limit: ConcurrencyLimitRequest) => request<ConcurrencyLimitView>('PUT', limitPath(name), limit),
  removeConcurrencyLimit: async (name: string) => {
    await request<void>('DELETE', limitPath(name));
    return true;
  },
};
