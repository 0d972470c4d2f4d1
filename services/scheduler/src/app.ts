import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express, { type Express } from 'express';
import type { RetentionConfig } from '../../common/src/config';
import type { Pool } from '../../common/src/db/pool';
import type { Logger } from '../../common/src/logger';
import { repoRoot } from '../../common/src/paths';
import { buildOpenApiDocument } from '../../sdk/src/http/openapi';
import { DEFAULT_PAYLOAD_MAX_BYTES } from '../../sdk/src/http/schemas';
import type { CoordinatorView } from './coordinator-view';
import type { EventFeed } from './events/event-feed';
import { apiAuthFromToken, authenticate, type ApiAuth } from './auth';
import { allowHosts, limitChanges, securityHeaders } from './hardening';
import { accessLog, errorHandler, notFoundHandler, requestContext, requireJsonBody } from './http';
import { httpMetrics, observeSseClients } from './metrics';
import { healthRoutes } from './routes/health';
import { logRoutes } from './routes/logs';
import { queueRoutes } from './routes/queues';
import { scheduleRoutes } from './routes/schedule';
import { cronScheduleRoutes } from './routes/schedules';
import { taskRoutes } from './routes/tasks';
import { workerRoutes } from './routes/workers';
import type { Scaler } from './scaler/scaler';
import { WorkerPools } from './scaler/worker-pools';

export interface AppDeps {
  pool: Pool;
  logger: Logger;
  feed: EventFeed;
  coordinator: CoordinatorView;
  scaler: Scaler;
  /** The worker pools the scale and kill endpoints work on; default: one pool, "default", over `scaler`. */
  workerPools?: WorkerPools;
  /** Who may call the API (auth.ts resolveApiAccess); without it, `apiToken` as the one operator token, or open. */
  auth?: ApiAuth;
  apiToken?: string;
  sseKeepAliveMs: number;
  /** Built dashboard to serve at /; defaults to dashboard/dist. */
  dashboardDir?: string;
  /** Extra routes mounted before the API (metrics). */
  extraRoutes?: express.Router;
  /** METRICS_AUTH=token: the extra routes (/metrics) need a viewer's token too, once tokens are configured. */
  protectMetrics?: boolean;
  /** PAYLOAD_MAX_BYTES; default 256 KiB. */
  payloadMaxBytes?: number;
  /** What the coordinators prune (shown in /api/stats). */
  retention?: RetentionConfig;
  /** IDEMPOTENCY_KEY_TTL; default 24 h. */
  idempotencyKeyTtlMs?: number;
  /** HTTP_BODY_MAX_BYTES, the largest request body (413 beyond); default 4 MiB. */
  bodyMaxBytes?: number;
  /** Hosts answered (ALLOWED_HOSTS or defaultAllowedHosts); undefined: any. */
  allowedHosts?: readonly string[];
  /** HTTP_RATE_LIMIT: changes per client a minute; 0 or undefined: no limit. */
  rateLimitPerMinute?: number;
  /** TRUST_PROXY, as Express takes it. */
  trustProxy?: string;
  /** SSE_MAX_CLIENTS; default 1000. */
  sseMaxClients?: number;
  /** SSE_MAX_RESUME; default 100,000. */
  sseMaxResume?: number;
}

/** TRUST_PROXY as Express takes it: a hop count, true/false, or addresses and subnets. */
function trustProxySetting(value: string): number | boolean | string {
  if (/^\d+$/.test(value)) return Number(value);
  if (value === 'true' || value === 'false') return value === 'true';
  return value;
}

/** The scheduler's HTTP app: the API under /api, the original routes at the root, the dashboard at /. */
export function createApp(deps: AppDeps): Express {
  const { pool, logger, feed, coordinator, scaler } = deps;
  const app = express();
  app.disable('x-powered-by');
  app.set('query parser', 'simple');
  if (deps.trustProxy !== undefined) app.set('trust proxy', trustProxySetting(deps.trustProxy));
  app.use(requestContext(logger));
  app.use(httpMetrics());
  app.use(accessLog());
  app.use(securityHeaders());
  // Probes come addressed to the pod's IP: answered before the Host check.
  app.use(healthRoutes(pool));
  app.use(allowHosts(deps.allowedHosts));
  if (deps.extraRoutes && !deps.protectMetrics) app.use(deps.extraRoutes);
  const payloadMaxBytes = deps.payloadMaxBytes ?? DEFAULT_PAYLOAD_MAX_BYTES;
  // Before the body is read: a caller without a token gets its 401 without the server parsing megabytes first.
  const auth = deps.auth ?? apiAuthFromToken(deps.apiToken);
  app.use(authenticate(auth, { protectMetrics: deps.protectMetrics }));
  if (deps.extraRoutes && deps.protectMetrics) app.use(deps.extraRoutes);
  app.use(limitChanges(deps.rateLimitPerMinute ?? 0));
  // Big enough for a task with the largest payload (config.ts checks); a larger body is a 413 from errorHandler.
  app.use(requireJsonBody());
  app.use(express.json({ limit: Math.max(deps.bodyMaxBytes ?? 4 * 1024 * 1024, payloadMaxBytes + 64 * 1024) }));

  const schedule = scheduleRoutes(pool, { payloadMaxBytes, keyTtlMs: deps.idempotencyKeyTtlMs });
  // Built when first asked for, and kept as text: most schedulers never serve it.
  let openapi: string | undefined;
  app.get('/api/openapi.json', (_req, res) => {
    openapi ??= JSON.stringify(buildOpenApiDocument({ payloadMaxBytes }));
    res.type('application/json').send(openapi);
  });
  const tasks = taskRoutes(pool, coordinator, deps.retention);
  app.use('/api', schedule.api, tasks.api, cronScheduleRoutes(pool, { payloadMaxBytes }), queueRoutes(pool), workerRoutes(pool, coordinator, deps.workerPools ?? WorkerPools.single(scaler)), logRoutes(pool, feed, auth, { keepAliveMs: deps.sseKeepAliveMs, onClientsChanged: observeSseClients, maxClients: deps.sseMaxClients ?? 1000, maxResumeEvents: deps.sseMaxResume ?? 100_000 }));
  app.use(schedule.legacy, tasks.legacy);
  app.use('/api', notFoundHandler());

  const dashboardDir = deps.dashboardDir ?? join(repoRoot(), 'dashboard', 'dist');
  if (existsSync(join(dashboardDir, 'index.html'))) {
    app.use(express.static(dashboardDir, { index: 'index.html', maxAge: '1h', setHeaders: noCacheForHtml }));
    // Client-side routes of the dashboard.
    app.get(/^\/(?!api\/).*/, (_req, res) => res.sendFile(join(dashboardDir, 'index.html')));
  } else {
    app.get('/', (_req, res) => {
      res.type('html').send('<h1>TaskMaster</h1><p>The dashboard is not built. Run <code>npm run build</code>. The API is at <a href="/api/stats">/api/stats</a>.</p>');
    });
  }
  app.use(notFoundHandler());
  app.use(errorHandler);
  return app;
}

function noCacheForHtml(res: express.Response, path: string): void {
  if (path.endsWith('.html')) res.setHeader('Cache-Control', 'no-cache');
}
