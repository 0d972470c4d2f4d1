/**
 * The errors TaskMaster raises on purpose. Each has a stable `code`; the HTTP error middleware and the gRPC
 * handler wrapper are the only places that turn them into responses (see http-errors.ts and grpc/handlers.ts).
 */
export class TaskMasterError extends Error {
  readonly code: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** Input that cannot be accepted; `field` names the offending field. HTTP 400, gRPC INVALID_ARGUMENT. */
export class ValidationError extends TaskMasterError {
  readonly field: string | undefined;
  constructor(message: string, field?: string, code = 'invalid_argument') {
    super(code, message);
    this.field = field;
  }
}

/** The named thing does not exist. HTTP 404, gRPC NOT_FOUND. */
export class NotFoundError extends TaskMasterError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super('not_found', message);
    this.field = field;
  }
}

/** The operation is not allowed on this object (another namespace, not a worker). HTTP 403, gRPC PERMISSION_DENIED. */
export class ForbiddenError extends TaskMasterError {
  readonly field: string | undefined;
  constructor(message: string, field?: string) {
    super('forbidden', message);
    this.field = field;
  }
}

/** The request conflicts with the current state. HTTP 409, gRPC FAILED_PRECONDITION. */
export class ConflictError extends TaskMasterError {
  constructor(message: string) {
    super('conflict', message);
  }
}

/** A status report for an attempt that is no longer current: the task was handed to someone else (fencing). */
export class StaleAttemptError extends TaskMasterError {
  constructor(message: string) {
    super('stale_attempt', message);
  }
}

/** A dependency (database, coordinator, scaler backend) cannot be reached. HTTP 503, gRPC UNAVAILABLE. */
export class UnavailableError extends TaskMasterError {
  constructor(message: string) {
    super('unavailable', message);
  }
}

/** Bad configuration; the message has one line per bad variable. */
export class ConfigError extends TaskMasterError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super('bad_config', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}
