import { randomUUID } from 'node:crypto';
import type { ErrorRequestHandler, NextFunction, Request, RequestHandler, Response } from 'express';
import {
  asDatabaseUnavailable, ConflictError, ForbiddenError, NotFoundError, TaskMasterError, UnauthenticatedError, UnavailableError, UnsupportedMediaTypeError,
  ValidationError,
} from '../../common/src/errors';
import type { Logger } from '../../common/src/logger';
import type { ErrorBody } from './api-types';
import type { Caller } from './auth';

declare module 'express-serve-static-core' {
  interface Request {
    id: string;
    log: Logger;
    /** Who made the request (auth.ts); undefined when the API is open. */
    caller?: Caller;
  }
}

/** Takes X-Request-Id when it is sane, or makes one; echoes it; gives the request a child logger. */
export function requestContext(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const given = req.get('x-request-id');
    req.id = given && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    req.log = logger.child({ request_id: req.id });
    next();
  };
}

/**
 * The request's path as the client sent it. Not req.path: inside a router, or a handler mounted at "/api", it
 * lacks the mount path ("/stats" for /api/stats). The query string is left out, as it may carry values a log
 * should not.
 */
function fullPath(req: Request): string {
  return req.originalUrl.split('?')[0];
}

/** Requests slower than this are logged at info even when they succeed. */
const SLOW_REQUEST_MS = 1000;

/**
 * Logs each finished request once, with its status and duration: at info when it failed (4xx, 5xx) or was
 * slow, at debug otherwise. A line per task submitted cost the scheduler more CPU than the submission itself
 * (a write to the log pipe, and a wake-up of whatever reads it) and carried nothing the HTTP metrics and
 * the task's own events do not; LOG_LEVEL=debug brings every line back.
 */
export function accessLog(): RequestHandler {
  return (req, res, next) => {
    const start = process.hrtime.bigint();
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - start) / 1e6;
      const notable = res.statusCode >= 400 || ms >= SLOW_REQUEST_MS;
      if (!notable && !req.log.isLevelEnabled('debug')) return;
      req.log[notable ? 'info' : 'debug']({ method: req.method, path: fullPath(req), status: res.statusCode, ms: Math.round(ms * 10) / 10 }, 'request');
    });
    next();
  };
}

/**
 * Every route that takes a body takes JSON: a body of another type is 415, rather than a 400 about an empty
 * object (express.json leaves other types unparsed). A request without a body passes (a cancel's is optional).
 */
export function requireJsonBody(): RequestHandler {
  return (req, _res, next) => {
    const hasBody = Number(req.get('content-length') ?? 0) > 0 || req.get('transfer-encoding') !== undefined;
    if (!hasBody || req.is('application/json') || req.is('+json')) return next();
    next(new UnsupportedMediaTypeError(`the body must be JSON (Content-Type: application/json); got ${(req.get('content-type') ?? 'no Content-Type').split(';')[0]}`));
  };
}

function sendError(res: Response, status: number, error: ErrorBody['error']): void {
  res.status(status).json({ error } satisfies ErrorBody);
}

function statusFor(err: TaskMasterError): number {
  if (err instanceof ValidationError) return 400;
  if (err instanceof NotFoundError) return 404;
  if (err instanceof ForbiddenError) return 403;
  if (err instanceof UnauthenticatedError) return 401;
  if (err instanceof ConflictError) return 409;
  if (err instanceof UnsupportedMediaTypeError) return 415;
  if (err instanceof UnavailableError) return 503;
  return 500;
}

/**
 * The one place HTTP errors are made: our errors map to their status with {error:{code,message,field}};
 * a database that cannot be reached is 503 database_unavailable (asDatabaseUnavailable decides what that is);
 * body-parser's malformed JSON and oversized bodies become 400 and 413; anything else is logged once and
 * answered 500 without internals.
 */
export const errorHandler: ErrorRequestHandler = (rawErr, req: Request, res: Response, next: NextFunction) => {
  if (res.headersSent) return next(rawErr);
  const err: unknown = asDatabaseUnavailable(rawErr) ?? rawErr;
  if (err instanceof TaskMasterError) {
    const status = statusFor(err);
    const field = (err as { field?: string }).field;
    // 503 is the outside world (a database outage), not a bug: warn, not error.
    const log = status === 503 ? req.log.warn : status >= 500 ? req.log.error : req.log.info;
    log.call(req.log, { code: err.code, field, reason: err.message, detail: err.detail }, 'request refused');
    return sendError(res, status, { code: err.code, message: err.message, ...(field ? { field } : {}) });
  }
  const parserError = err as { type?: string; status?: number; limit?: number };
  if (parserError.type === 'entity.parse.failed') {
    req.log.info({ reason: 'malformed JSON' }, 'request refused');
    return sendError(res, 400, { code: 'invalid_json', message: 'the request body is not valid JSON', field: 'body' });
  }
  if (parserError.type === 'entity.too.large') {
    req.log.info({ reason: 'body too large', limit: parserError.limit }, 'request refused');
    return sendError(res, 413, { code: 'payload_too_large', message: `the request body is larger than ${parserError.limit} bytes`, field: 'body' });
  }
  // The router could not percent-decode a path parameter (%FF, an encoded surrogate): the path is at fault.
  if ((err as Error).name === 'URIError' && parserError.status === 400) {
    req.log.info({ reason: 'undecodable path' }, 'request refused');
    return sendError(res, 400, { code: 'invalid_argument', message: 'the path is not percent-encoded UTF-8', field: 'path' });
  }
  if (parserError.status && parserError.status >= 400 && parserError.status < 500) {
    return sendError(res, parserError.status, { code: 'bad_request', message: (err as Error).message });
  }
  req.log.error({ err }, 'request failed');
  sendError(res, 500, { code: 'internal', message: 'internal error; see the scheduler log for request ' + req.id });
};

export function notFoundHandler(): RequestHandler {
  return (req, res) => sendError(res, 404, { code: 'not_found', message: `no route ${req.method} ${fullPath(req)}` });
}
