import type { ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { closeHttp, listenHttp } from './listen-http';
import type { Logger } from './logger';

/**
 * The metrics of this process: one registry, because a process runs one service. Every series carries a
 * `service` label (scheduler, coordinator, worker), so the three are told apart even where they export the
 * same names (Node process metrics, gRPC). Service-specific metrics are defined beside each service
 * (services/<service>/src/metrics.ts) and register here. docs/operations.md lists every metric.
 */
export const registry = new Registry();

/**
 * prom-client exports these gauges with a counter's `_total` suffix, which `promtool check metrics` rejects;
 * nodejs_active_handles, nodejs_active_requests and nodejs_active_resources carry the same counts by type.
 */
const MISNAMED_DEFAULT_METRICS = ['nodejs_active_handles_total', 'nodejs_active_requests_total', 'nodejs_active_resources_total'];

/** Turns on the default Node process metrics and labels every series with `service`. Once per process. */
export function enableProcessMetrics(service: string): void {
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  for (const name of MISNAMED_DEFAULT_METRICS) registry.removeSingleMetric(name);
}

/** Writes the exposition of every metric: the body of GET /metrics on every service. */
export async function writeMetrics(res: ServerResponse): Promise<void> {
  const body = await registry.metrics();
  res.writeHead(200, { 'Content-Type': registry.contentType });
  res.end(body);
}

export interface MetricsServer {
  readonly port: number;
  close(): Promise<void>;
}

/**
 * The coordinator's and the worker's HTTP port (METRICS_PORT): GET /metrics and GET /healthz. They serve gRPC
 * otherwise; the scheduler serves /metrics on its own HTTP port instead. Port 0 takes a free port, for
 * several workers on one host; the bound port is logged.
 */
export async function startMetricsServer(options: { host: string; port: number; logger: Logger }): Promise<MetricsServer> {
  const server = await listenHttp((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD' }).end();
    } else if (path === '/metrics') {
      writeMetrics(res).catch((err: Error) => {
        options.logger.error({ err }, 'rendering metrics failed');
        if (!res.headersSent) res.writeHead(500);
        res.end();
      });
    } else if (path === '/healthz') {
      res.writeHead(200, { 'Content-Type': 'application/json' }).end('{"status":"ok"}');
    } else {
      res.writeHead(404, { 'Content-Type': 'application/json' }).end('{"error":{"code":"not_found","message":"try /metrics or /healthz"}}');
    }
  }, options.port, options.host, 'METRICS_PORT');
  const { port } = server.address() as AddressInfo;
  options.logger.info({ port }, `metrics listening on http://${options.host}:${port}/metrics`);
  return { port, close: () => closeHttp(server) };
}

// Tasks are created by the scheduler (HTTP) and by the coordinator (gRPC SubmitTask), both through insertTasks.
export const tasksCreated = new Counter({
  name: 'taskmaster_tasks_created_total',
  help: 'Tasks inserted (an idempotency key that matched an existing task creates none).',
  registers: [registry],
});

// gRPC calls are observed in one place each: answer() in grpc/server.ts serves unary calls and stream requests
// alike; callUnary() and RequestStream make them. A request on a stream counts as a call of the stream's method.
// 1 ms to 10 s: a batch of 1,000 status reports takes tens of milliseconds; deadlines are 10 s.
const GRPC_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const grpcServerRequests = new Counter({
  name: 'taskmaster_grpc_server_requests_total',
  help: 'gRPC calls handled, by method and status code.',
  labelNames: ['method', 'code'],
  registers: [registry],
});

export const grpcServerDuration = new Histogram({
  name: 'taskmaster_grpc_server_request_duration_seconds',
  help: 'Time from receiving a gRPC call to answering it, by method and status code.',
  labelNames: ['method', 'code'],
  buckets: GRPC_BUCKETS,
  registers: [registry],
});

export const grpcClientRequests = new Counter({
  name: 'taskmaster_grpc_client_requests_total',
  help: 'gRPC calls made to other services, by method and status code.',
  labelNames: ['method', 'code'],
  registers: [registry],
});

export const grpcClientDuration = new Histogram({
  name: 'taskmaster_grpc_client_request_duration_seconds',
  help: 'Time from making a gRPC call to its answer (or error), by method and status code.',
  labelNames: ['method', 'code'],
  buckets: GRPC_BUCKETS,
  registers: [registry],
});
