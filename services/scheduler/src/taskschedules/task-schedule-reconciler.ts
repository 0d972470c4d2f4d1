import { isDeepStrictEqual } from 'node:util';
import type { Pool } from '../../../common/src/db/pool';
import { saveSchedule, scheduleColumns } from '../../../common/src/db/schedules';
import { ConflictError } from '../../../common/src/errors';
import type { Logger } from '../../../common/src/logger';
import { taskScheduleKey, taskScheduleKeyPrefix } from '../../../common/src/task-schedule-key';
import { nextRuns } from '../../../sdk/src/schedule-fields';
import { deleteResourceSchedule, getScheduleByKey, listResourceSchedules, type ResourceScheduleRow } from '../db/resource-schedules';
import { setPaused } from '../db/schedules';
import type { RequestLimits } from '../validation';
import { scheduleFromSpec, type SpecOutcome, type TaskSchedule } from './task-schedule';
import { desiredStatus, statusPatch, type ScheduleProblem } from './task-schedule-status';

/** Writes a resource's status subresource (a JSON merge patch); a resource deleted meanwhile is not an error. */
export type StatusWriter = (name: string, patch: { status: Record<string, unknown> }) => Promise<void>;

export interface TaskScheduleReconcilerOptions {
  pool: Pool;
  /** The namespace whose TaskSchedules are reconciled. */
  namespace: string;
  writeStatus: StatusWriter;
  /** PAYLOAD_MAX_BYTES, as the API applies it. */
  limits: RequestLimits;
  logger: Logger;
  now?: () => Date;
}

/**
 * Makes the schedules table agree with the namespace's TaskSchedule resources, and their status with the
 * schedules. Idempotent: a resource whose schedule already matches costs one read and writes nothing, so the
 * watch, the resync and the status refresh can all call it as often as they like.
 */
export class TaskScheduleReconciler {
  constructor(private readonly options: TaskScheduleReconcilerOptions) {}

  /** One resource; `row` when the caller has read it already (null: known to be absent). */
  async reconcile(resource: TaskSchedule, row?: ResourceScheduleRow | null): Promise<void> {
    const { pool, namespace, limits } = this.options;
    const key = taskScheduleKey(namespace, resource.metadata.name);
    let current = row === undefined ? await getScheduleByKey(pool, key) : (row ?? undefined);
    const outcome = scheduleFromSpec(resource, namespace, limits);
    let problem: ScheduleProblem | undefined;
    if ('problem' in outcome) {
      const kept = current?.source === 'kubernetes' ? 'the schedule keeps its last valid settings' : 'no schedule is made';
      problem = { reason: 'InvalidSpec', message: `${outcome.problem}; ${kept}` };
    } else {
      try {
        current = await this.apply(outcome, current);
      } catch (err) {
        if (!(err instanceof ConflictError)) throw err;
        problem = { reason: 'KeyInUse', message: err.message };
      }
    }
    // A schedule with the key from another source is not this resource's: its status shows none of it.
    const own = current?.source === 'kubernetes' ? current : undefined;
    await this.writeStatus(resource, desiredStatus(resource, own, problem, this.now()));
  }

  /**
   * Every resource of a fresh list, then the schedules whose resource is gone (deleted while no reconciler
   * led, or a delete event missed). Only a complete list may delete: the caller never passes a partial one.
   */
  async resync(resources: readonly TaskSchedule[]): Promise<void> {
    const { pool, namespace, logger } = this.options;
    const rows = await this.rowsByKey();
    await this.reconcileEach(resources, rows);
    const wanted = new Set(resources.map((resource) => taskScheduleKey(namespace, resource.metadata.name)));
    for (const key of rows.keys()) {
      if (key === null || wanted.has(key)) continue;
      if (await deleteResourceSchedule(pool, key)) logger.info({ schedule: key }, 'deleted the schedule of a TaskSchedule that no longer exists');
    }
  }

  /** Every resource, against one read of their schedules: the periodic status refresh. */
  async refresh(resources: readonly TaskSchedule[]): Promise<void> {
    await this.reconcileEach(resources, await this.rowsByKey());
  }

  /** The resource was deleted: so is its schedule (the tasks it made stay). */
  async remove(resource: TaskSchedule): Promise<void> {
    const key = taskScheduleKey(this.options.namespace, resource.metadata.name);
    if (await deleteResourceSchedule(this.options.pool, key)) this.options.logger.info({ schedule: key }, 'TaskSchedule deleted: schedule deleted');
  }

  /** The namespace's TaskSchedule schedules, in one read, by key. */
  private async rowsByKey(): Promise<Map<string | null, ResourceScheduleRow>> {
    const { pool, namespace } = this.options;
    return new Map((await listResourceSchedules(pool, taskScheduleKeyPrefix(namespace))).map((row) => [row.key, row]));
  }

  private async reconcileEach(resources: readonly TaskSchedule[], rows: Map<string | null, ResourceScheduleRow>): Promise<void> {
    for (const resource of resources) {
      try {
        // A key missing from the list may still be held by another source: reconcile() reads it then.
        const row = rows.get(taskScheduleKey(this.options.namespace, resource.metadata.name));
        await this.reconcile(resource, row);
      } catch (err) {
        // One resource's failure (the database or the API server away) must not stop the others; the next pass retries.
        this.options.logger.warn({ err, taskSchedule: resource.metadata.name }, 'could not reconcile a TaskSchedule');
      }
    }
  }

  /** Saves the schedule when it differs from the row; returns the row as it now is. */
  private async apply(outcome: Extract<SpecOutcome, { schedule: unknown }>, current: ResourceScheduleRow | undefined): Promise<ResourceScheduleRow | undefined> {
    const { pool, logger } = this.options;
    const { schedule } = outcome;
    if (current?.source === 'kubernetes' && sameSchedule(current, schedule) && current.paused === schedule.paused) return current;
    // Suspending is saved with the rest, in one statement. Resuming is saved paused and then resumed as the API's
    // resume does, so that it starts from the next occurrence instead of catching up the suspension.
    const saved = await saveSchedule(pool, { ...schedule, paused: schedule.paused || Boolean(current?.paused) }, 'kubernetes');
    if (saved.paused !== schedule.paused) {
      const [next = null] = nextRuns(saved.cron, saved.timezone, this.now(), 1);
      await setPaused(pool, saved.id, schedule.paused, next);
    }
    logger.info({ schedule: saved.key, schedule_id: saved.id, cron: saved.cron, paused: schedule.paused }, saved.created ? 'TaskSchedule: schedule created' : 'TaskSchedule: schedule updated');
    return getScheduleByKey(pool, schedule.key);
  }

  private async writeStatus(resource: TaskSchedule, desired: ReturnType<typeof desiredStatus>): Promise<void> {
    const patch = statusPatch(resource, desired);
    if (patch) await this.options.writeStatus(resource.metadata.name, patch);
  }

  private now(): Date {
    return (this.options.now ?? (() => new Date()))();
  }
}

/** Whether the row already holds what the schedule asks for, defaults applied as saving applies them. */
function sameSchedule(row: ResourceScheduleRow, schedule: Parameters<typeof scheduleColumns>[0]): boolean {
  const wanted = scheduleColumns(schedule);
  return (Object.keys(wanted) as Array<keyof typeof wanted>).every((column) => isDeepStrictEqual(row[column], wanted[column]));
}
