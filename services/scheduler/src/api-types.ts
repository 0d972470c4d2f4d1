/**
 * The scheduler's HTTP API, as types. The routes build these shapes and the dashboard imports this file,
 * so the two cannot drift apart. Times are ISO-8601 strings unless the name says otherwise.
 */

export type TaskStatus = 'pending' | 'dispatched' | 'running' | 'succeeded' | 'failed' | 'cancelled';

export interface ErrorBody {
  error: { code: string; message: string; field?: string };
}

/** POST /schedule and /api/schedule (the original contract: scheduled_at in epoch seconds). */
export interface ScheduleResponse {
  command: string;
  scheduled_at: number;
  task_id: string;
}

/** POST /api/schedule/batch */
export interface BatchScheduleResponse {
  command: string;
  count: number;
  scheduled_at: number;
  task_ids: string[];
}

/** A task. Like the original GET /status, optional timestamps are present only once set. */
export interface TaskView {
  task_id: string;
  command: string;
  status: TaskStatus;
  attempt: number;
  max_attempts: number;
  priority: number;
  worker_id: number | null;
  scheduled_at: string;
  created_at: string;
  updated_at: string;
  picked_at?: string;
  started_at?: string;
  completed_at?: string;
  failed_at?: string;
  cancelled_at?: string;
  lease_expires_at?: string;
  last_error?: string;
  result?: string;
}

/** GET /api/tasks */
export interface TaskPage {
  tasks: TaskView[];
  /** Pass as ?cursor= for the next page; null on the last page. */
  next_cursor: string | null;
}

/** GET /api/tasks/:id/events and the log stream. */
export interface EventView {
  id: number;
  at: string;
  type: string;
  task_id?: string;
  attempt?: number;
  worker_id?: number;
  command?: string;
  message: string;
}

/** GET /api/stats */
export interface StatsView {
  pending: number;
  dispatched: number;
  running: number;
  completed: number;
  failed: number;
  cancelled: number;
  total: number;
  /** Workers alive in the coordinator's registry. */
  workers: number;
  slots_total: number;
  slots_busy: number;
  coordinator_reachable: boolean;
}

/** One worker as GET /api/workers shows it: the coordinator's view merged with the scaler's. */
export interface WorkerView {
  name: string;
  worker_id?: number;
  address?: string;
  /** alive: heartbeating; draining: finishing its tasks; starting: started, not yet registered; gone: process or pod ended. */
  state: 'alive' | 'draining' | 'starting' | 'gone';
  slots_total?: number;
  slots_busy?: number;
  in_flight?: number;
  last_heartbeat_at?: string;
  heartbeat_misses?: number;
  /** What the scaler backend knows: a local process or a pod. */
  runtime?: { phase: string; ready: boolean; pid?: number; node?: string };
}

export interface WorkersResponse {
  workers: WorkerView[];
  scaler: { kind: string; desired: number | null; actual: number };
  coordinator_reachable: boolean;
}

/** POST /api/workers/scale */
export interface ScaleResponse {
  scaler: string;
  requested: number;
  previous: number | null;
}

/** POST /api/workers/kill */
export interface KillResponse {
  scaler: string;
  killed: string;
}
