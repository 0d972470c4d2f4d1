import type { StandardSchemaV1 } from '../standard-schema';

/** The scheduler refused a request or could not be reached; `status` is 0 when no response came. */
export class TaskMasterApiError extends Error {
  readonly status: number;
  /** The API's error code ("invalid_argument", "not_found", ...), or "network_error" / "timeout" without a response. */
  readonly code: string;
  /** The request field at fault, as the API names it ("payload", "tasks[3].name"). */
  readonly field: string | undefined;
  constructor(status: number, code: string, message: string, field?: string) {
    super(message);
    this.name = 'TaskMasterApiError';
    this.status = status;
    this.code = code;
    this.field = field;
  }
}

/** A payload that the task definition's schema refuses; nothing was sent. */
export class TaskPayloadError extends Error {
  readonly taskName: string;
  readonly issues: ReadonlyArray<StandardSchemaV1.Issue>;
  constructor(taskName: string, issues: ReadonlyArray<StandardSchemaV1.Issue>) {
    const first = issues[0];
    const where = issuePath(first);
    super(`payload for task "${taskName}" is invalid${where ? ` at ${where}` : ''}: ${first?.message ?? 'refused by its schema'}`);
    this.name = 'TaskPayloadError';
    this.taskName = taskName;
    this.issues = issues;
  }
}

/** wait() gave up before the task finished. */
export class TaskWaitTimeoutError extends Error {
  readonly taskId: string;
  constructor(taskId: string, timeoutMs: number) {
    super(`task ${taskId} did not finish within ${timeoutMs} ms`);
    this.name = 'TaskWaitTimeoutError';
    this.taskId = taskId;
  }
}

/** "items[2].url" for a Standard Schema issue path. */
function issuePath(issue: StandardSchemaV1.Issue | undefined): string {
  if (!issue?.path || issue.path.length === 0) return '';
  return issue.path
    .map((segment) => (typeof segment === 'object' ? segment.key : segment))
    .map((key, i) => (typeof key === 'number' ? `[${key}]` : `${i === 0 ? '' : '.'}${String(key)}`))
    .join('');
}
