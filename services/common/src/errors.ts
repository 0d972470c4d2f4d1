/**
 * The errors TaskMaster raises on purpose. Each has a stable `code`; the HTTP error middleware and the gRPC
 * handler wrapper are the only places that turn them into responses (see http-errors.ts and grpc/handlers.ts).
 */
export class TaskMasterError extends Error {
  readonly code: string;
  /**
   * What another system said (a Kubernetes API server's Status message, docker's stderr): logged with the
   * refusal, never sent to the caller, whom it would tell about the cluster's internals.
   */
  detail?: string;
  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }

  /** This error with `detail` for the logs. */
  withDetail(detail: string): this {
    this.detail = detail;
    return this;
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

/** The caller did not say who it is, or not in a way that can be verified. HTTP 401, gRPC UNAUTHENTICATED. */
export class UnauthenticatedError extends TaskMasterError {
  constructor(message: string) {
    super('unauthenticated', message);
  }
}

/** A request body in a format the route does not take (not JSON). HTTP 415. */
export class UnsupportedMediaTypeError extends TaskMasterError {
  constructor(message: string) {
    super('unsupported_media_type', message);
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
  constructor(message: string, code = 'unavailable') {
    super(code, message);
  }
}

/** The database cannot be reached or is shutting down; the request may be retried. HTTP 503, gRPC UNAVAILABLE. */
export class DatabaseUnavailableError extends UnavailableError {
  constructor(message: string) {
    super(message, 'database_unavailable');
  }
}

/** Socket errors of a connection that failed or broke. */
const CONNECTION_ERROR_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN',
]);

/**
 * SQLSTATEs that say the server, not the statement, is the problem: class 08 (connection exception),
 * 57P01-57P03 (admin or crash shutdown, cannot connect now), 53300 (too many connections) and 57014 (a
 * statement or query timeout cancelled it).
 */
const UNAVAILABLE_SQLSTATES = /^(08...|57P0[123]|53300|57014)$/;

/** node-postgres reports a dropped connection or a connect timeout by message only. */
const CONNECTION_MESSAGES = /^(Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Query read timeout)/;

/**
 * The one test of whether an error means "the database is unavailable" rather than "this request is wrong":
 * returns it as a DatabaseUnavailableError, or undefined. The HTTP error middleware answers the former 503.
 */
export function asDatabaseUnavailable(err: unknown): DatabaseUnavailableError | undefined {
  if (err instanceof DatabaseUnavailableError) return err;
  // Duck-typed, not `instanceof Error`: errors from node's own modules may come from another realm (jest).
  if (typeof err !== 'object' || err === null || err instanceof TaskMasterError) return undefined;
  const { code, message = '', errors } = err as { code?: unknown; message?: unknown; errors?: unknown };
  const text = typeof message === 'string' ? message : '';
  const unavailable = (typeof code === 'string' && (CONNECTION_ERROR_CODES.has(code) || UNAVAILABLE_SQLSTATES.test(code)))
    || CONNECTION_MESSAGES.test(text)
    // AggregateError: a connect that tried several addresses (IPv4 and IPv6) and failed on each.
    || (Array.isArray(errors) && errors.some((inner) => asDatabaseUnavailable(inner) !== undefined));
  if (!unavailable) return undefined;
  const reason = typeof code === 'string' && code !== '' ? `${code}: ${text || 'connection failed'}` : text;
  return new DatabaseUnavailableError(`the database is unavailable (${reason}); retry shortly`);
}

/** Bad configuration; the message has one line per bad variable. */
export class ConfigError extends TaskMasterError {
  readonly problems: readonly string[];
  constructor(problems: string[]) {
    super('bad_config', `invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}
