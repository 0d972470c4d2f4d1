import type { NewSchedule } from '../../../common/src/db/schedules';
import { ValidationError } from '../../../common/src/errors';
import { MAX_SCHEDULE_KEY_LENGTH, taskScheduleKey } from '../../../common/src/task-schedule-key';
import { parseCronScheduleRequest, type RequestLimits } from '../validation';

/** The TaskSchedule custom resource (charts/taskmaster/crds/taskschedules.yaml). */
export const TASK_SCHEDULE_GROUP = 'taskmaster.dev';
export const TASK_SCHEDULE_VERSION = 'v1alpha1';
export const TASK_SCHEDULE_PLURAL = 'taskschedules';

/** A metav1.Condition, as the status subresource keeps it. */
export interface TaskScheduleCondition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  lastTransitionTime: string;
  observedGeneration?: number;
}

/** What the reconciler writes through the status subresource. */
export interface TaskScheduleStatus {
  observedGeneration?: number;
  scheduleId?: string;
  nextRunAt?: string;
  lastRunAt?: string;
  lastResult?: 'Succeeded' | 'Failed' | 'Cancelled';
  lastTaskId?: string;
  conditions?: TaskScheduleCondition[];
}

/** A TaskSchedule as the API server returns it; the spec is checked by the reconciler, so typed loosely. */
export interface TaskSchedule {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; generation?: number; resourceVersion?: string; uid?: string };
  spec?: Record<string, unknown>;
  status?: TaskScheduleStatus;
}

/**
 * Each spec field and the POST /api/schedules field it is: a resource's spec goes through the API's own
 * checks (parseCronScheduleRequest), so a pattern, zone or payload is judged by one rule wherever it comes
 * from. The CRD's schema says the same types and bounds (a test compares it with the API's OpenAPI schema).
 */
export const SPEC_TO_API_FIELD = {
  task: 'name',
  cron: 'cron',
  timezone: 'timezone',
  payload: 'payload',
  queue: 'queue',
  priority: 'priority',
  maxAttempts: 'max_attempts',
  timeoutSeconds: 'timeout_seconds',
  overlap: 'overlap',
  catchUp: 'catch_up',
  suspend: 'paused',
} as const;

const API_TO_SPEC_FIELD = new Map<string, string>(Object.entries(SPEC_TO_API_FIELD).map(([spec, api]) => [api, spec]));

/** The schedule a resource asks for, or why it cannot be made ("spec.cron is not a cron pattern: ..."). */
export type SpecOutcome = { schedule: NewSchedule & { key: string; paused: boolean } } | { problem: string };

export function scheduleFromSpec(resource: TaskSchedule, namespace: string, limits: RequestLimits): SpecOutcome {
  const key = taskScheduleKey(namespace, resource.metadata.name);
  if (key.length > MAX_SCHEDULE_KEY_LENGTH) {
    return { problem: `metadata.name is too long: the schedule key ${key} takes ${key.length} characters, at most ${MAX_SCHEDULE_KEY_LENGTH}` };
  }
  const spec = resource.spec ?? {};
  const body: Record<string, unknown> = { key };
  for (const [specField, apiField] of Object.entries(SPEC_TO_API_FIELD)) {
    if (spec[specField] !== undefined && spec[specField] !== null) body[apiField] = spec[specField];
  }
  try {
    const schedule = parseCronScheduleRequest(body, limits);
    return { schedule: { ...schedule, key, paused: schedule.paused ?? false } };
  } catch (err) {
    if (!(err instanceof ValidationError)) throw err;
    return { problem: specMessage(err) };
  }
}

/** The API's message about a body field, about the spec field instead ("cron is ..." → "spec.cron is ..."). */
function specMessage(err: ValidationError): string {
  const field = err.field ?? '';
  const root = field.split(/[.[]/)[0];
  const specField = API_TO_SPEC_FIELD.get(root);
  if (!specField || !err.message.startsWith(root)) return `spec: ${err.message}`;
  return `spec.${specField}${err.message.slice(root.length)}`;
}
