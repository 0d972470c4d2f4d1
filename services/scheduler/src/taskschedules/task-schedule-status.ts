import { isDeepStrictEqual } from 'node:util';
import type { ResourceScheduleRow } from '../db/resource-schedules';
import type { TaskSchedule, TaskScheduleCondition, TaskScheduleStatus } from './task-schedule';

/** Why a resource is not in force: its Ready condition's reason and message. */
export interface ScheduleProblem {
  reason: 'InvalidSpec' | 'KeyInUse';
  message: string;
}

const FINISHED = { succeeded: 'Succeeded', failed: 'Failed', cancelled: 'Cancelled' } as const;

/**
 * The status a resource should show: Ready (False with the problem, else True, reason Scheduled or
 * Suspended), its schedule's next occurrence unless suspended, and the last run that finished. A run still in
 * flight leaves lastRunAt and lastResult as they were, so they always describe a finished run.
 */
export function desiredStatus(resource: TaskSchedule, row: ResourceScheduleRow | undefined, problem: ScheduleProblem | undefined, now: Date): TaskScheduleStatus {
  const generation = resource.metadata.generation;
  const previous = resource.status ?? {};
  const ready: Omit<TaskScheduleCondition, 'lastTransitionTime'> = problem
    ? { type: 'Ready', status: 'False', reason: problem.reason, message: problem.message }
    : row?.paused
      ? { type: 'Ready', status: 'True', reason: 'Suspended', message: `schedule ${row.id} is suspended (spec.suspend): it makes no tasks` }
      : { type: 'Ready', status: 'True', reason: 'Scheduled', message: `schedule ${row?.id} makes a ${row?.name} task on "${row?.cron}" in ${row?.timezone}` };
  const before = previous.conditions?.find((condition) => condition.type === 'Ready');
  const lastTransitionTime = before && before.status === ready.status ? before.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, 'Z');

  const status: TaskScheduleStatus = {
    observedGeneration: generation,
    conditions: [{ ...ready, lastTransitionTime, ...(generation === undefined ? {} : { observedGeneration: generation }) }],
  };
  if (row) status.scheduleId = row.id;
  if (row && !row.paused && row.next_run_at) status.nextRunAt = row.next_run_at.toISOString();
  const finished = row?.last_task_status ? FINISHED[row.last_task_status as keyof typeof FINISHED] : undefined;
  if (row && finished && row.last_task_id && row.last_task_scheduled_at) {
    status.lastRunAt = row.last_task_scheduled_at.toISOString();
    status.lastResult = finished;
    status.lastTaskId = row.last_task_id;
  } else if (previous.lastRunAt !== undefined) {
    status.lastRunAt = previous.lastRunAt;
    status.lastResult = previous.lastResult;
    status.lastTaskId = previous.lastTaskId;
  }
  return status;
}

const STATUS_FIELDS = ['observedGeneration', 'scheduleId', 'nextRunAt', 'lastRunAt', 'lastResult', 'lastTaskId', 'conditions'] as const;

/**
 * The JSON merge patch that turns the resource's status into `desired`, or undefined when they agree. A field
 * the desired status lacks is sent as null, which a merge patch removes.
 */
export function statusPatch(resource: TaskSchedule, desired: TaskScheduleStatus): { status: Record<string, unknown> } | undefined {
  const current = (resource.status ?? {}) as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const field of STATUS_FIELDS) {
    const want = desired[field];
    if (!isDeepStrictEqual(current[field] ?? undefined, want)) patch[field] = want ?? null;
  }
  return Object.keys(patch).length === 0 ? undefined : { status: patch };
}
