import { Router, type Request, type RequestHandler } from 'express';
import { Counter, Gauge, Histogram } from 'prom-client';
import { TaskMasterError, UnavailableError } from '../../common/src/errors';
import { registry, writeMetrics } from '../../common/src/metrics';
import type { Scaler } from './scaler/scaler';

/**
 * The scheduler's metrics: its HTTP API, the log stream's clients, scaling operations and cancellations.
 * /metrics is served on the scheduler's own HTTP port. docs/operations.md explains each.
 */

const httpRequests = new Counter({
  name: 'taskmaster_http_requests_total',
  help: 'HTTP requests answered, by method, route template and status code.',
  labelNames: ['method', 'route', 'status'],
  registers: [registry],
});
const httpDuration = new Histogram({
  name: 'taskmaster_http_request_duration_seconds',
  help: 'Time from receiving an HTTP request to the end of its response, by method and route template (an SSE stream lasts as long as its client stays).',
  labelNames: ['method', 'route'],
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  registers: [registry],
});
const sseClients = new Gauge({
  name: 'taskmaster_sse_clients',
  help: 'Clients connected to the log stream (/api/logs/stream).',
  registers: [registry],
});
const scalerOperations = new Counter({
  name: 'taskmaster_scaler_operations_total',
  help: 'Scale and kill operations, by scaler backend and outcome (ok; rejected: refused as asked; error: the backend failed).',
  labelNames: ['backend', 'operation', 'outcome'],
  registers: [registry],
});
const tasksCancelled = new Counter({
  name: 'taskmaster_tasks_cancelled_total',
  help: 'Pending tasks cancelled through the API.',
  registers: [registry],
});

/** GET /metrics, mounted through createApp's extraRoutes. */
export function metricsRoutes(): Router {
  const router = Router();
  router.get('/metrics', (_req, res) => writeMetrics(res));
  return router;
}

/**
 * Counts and times every request by route template ("/api/tasks/:id"), never by raw path, so a series
 * stands for a route and not for a task id. Requests no route matched are "static" (dashboard files) or,
 * when answered 404, "unmatched".
 */
export function httpMetrics(): RequestHandler {
  return (req, res, next) => {
    const routeTemplate = captureRouteTemplate(req);
    const endTimer = httpDuration.startTimer();
    // 'close' rather than 'finish': it also fires when the client goes away first, as SSE clients do.
    res.once('close', () => {
      const route = routeTemplate() ?? (res.statusCode === 404 ? 'unmatched' : 'static');
      endTimer({ method: req.method, route });
      httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  };
}

/**
 * Express sets req.route when a route matches, but restores req.baseUrl when an error leaves a router, so
 * by the time an error response ends the "/api" prefix is gone. The template is therefore taken at the
 * moment the route is set.
 */
function captureRouteTemplate(req: Request): () => string | undefined {
  let route: unknown;
  let template: string | undefined;
  Object.defineProperty(req, 'route', {
    configurable: true,
    enumerable: true,
    get: () => route,
    set(value: { path?: unknown } | undefined) {
      route = value;
      // A regular-expression route is the dashboard's client-side routing fallback.
      template = typeof value?.path === 'string' ? req.baseUrl + value.path : 'static';
    },
  });
  return () => template;
}

export function observeSseClients(delta: 1 | -1): void {
  sseClients.inc(delta);
}

export function observeCancelled(count = 1): void {
  if (count > 0) tasksCancelled.inc(count);
}

type ScalerOutcome = 'ok' | 'rejected' | 'error';

function outcomeOf(err: unknown): ScalerOutcome {
  return err instanceof TaskMasterError && !(err instanceof UnavailableError) ? 'rejected' : 'error';
}

/**
 * The scaler with its scale and kill operations counted, whoever calls them (the API or the autoscaler).
 * Every backend is wrapped the same way, in one place.
 */
export function instrumentScaler(scaler: Scaler): Scaler {
  const backend = scaler.kind;
  for (const operation of ['scale', 'kill']) {
    for (const outcome of ['ok', 'rejected', 'error']) scalerOperations.inc({ backend, operation, outcome }, 0);
  }
  const observe = async <T>(operation: 'scale' | 'kill', run: () => Promise<T>): Promise<T> => {
    try {
      const result = await run();
      scalerOperations.inc({ backend, operation, outcome: 'ok' });
      return result;
    } catch (err) {
      scalerOperations.inc({ backend, operation, outcome: outcomeOf(err) });
      throw err;
    }
  };
  return {
    kind: scaler.kind,
    scale: (count) => observe('scale', () => scaler.scale(count)),
    kill: (name) => observe('kill', () => scaler.kill(name)),
    list: () => scaler.list(),
    desired: () => scaler.desired(),
    close: () => scaler.close(),
  };
}
