import type { Server } from 'node:http';
import { createLogger } from '../../services/common/src/logger';
import type { Coordinator } from '../../services/coordinator/src/coordinator';
import { createApp, type AppDeps } from '../../services/scheduler/src/app';
import type { ApiAuth } from '../../services/scheduler/src/auth';
import { coordinatorView } from '../../services/scheduler/src/coordinator-view';
import { EventFeed } from '../../services/scheduler/src/events/event-feed';
import { LocalScaler } from '../../services/scheduler/src/scaler/local';
import { createTestDatabase, type TestDatabase } from './database';
import { startTestCoordinator } from './coordinator';

export interface SchedulerUnderTest {
  url: string;
  coordinator: Coordinator;
  /** The coordinator's gRPC address, for workers. */
  coordinatorAddress: string;
  scaler: LocalScaler;
  feed: EventFeed;
  stop(): Promise<void>;
}

/**
 * The scheduler's HTTP app and a real coordinator, in this process, against a test database; worker
 * processes (if a test scales) are real. For HTTP contract tests that need no process boundaries.
 */
export async function startSchedulerApp(
  db: TestDatabase,
  options: {
    apiToken?: string; auth?: ApiAuth; keepAliveMs?: number; payloadMaxBytes?: number; coordinatorEnv?: Record<string, string>;
    app?: Pick<AppDeps, 'allowedHosts' | 'rateLimitPerMinute' | 'trustProxy' | 'sseMaxClients' | 'sseMaxResume' | 'extraRoutes' | 'protectMetrics'>;
  } = {},
): Promise<SchedulerUnderTest> {
  const logger = createLogger('test', 'silent');
  const running = await startTestCoordinator(db, options.coordinatorEnv);
  const { coordinator, address } = running;
  const view = coordinatorView(address);
  const feed = new EventFeed({ pool: db.pool, database: db.config, logger });
  const scaler = new LocalScaler({ logger, env: { PATH: process.env.PATH, COORDINATOR_ADDRESS: address, BIND_HOST: '127.0.0.1', HEARTBEAT_INTERVAL: '1s', TASK_PROCESS_TIME: '50ms', LOG_LEVEL: 'warn' }, stopGraceMs: 5000 });
  const app = createApp({ pool: db.pool, logger, feed, coordinator: view, scaler, auth: options.auth, apiToken: options.apiToken, ...options.app, sseKeepAliveMs: options.keepAliveMs ?? 15_000, payloadMaxBytes: options.payloadMaxBytes });
  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const port = (server.address() as { port: number }).port;
  return {
    url: `http://127.0.0.1:${port}`,
    coordinator,
    coordinatorAddress: address,
    scaler,
    feed,
    async stop() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await scaler.close();
      await feed.close();
      view.close();
      await running.stop();
    },
  };
}

/** fetch with a JSON body; returns status and parsed body. */
export async function request(url: string, init: { method?: string; body?: unknown; rawBody?: string; headers?: Record<string, string> } = {}): Promise<{ status: number; body: any; headers: Headers }> {
  const response = await fetch(url, {
    method: init.method ?? (init.body !== undefined || init.rawBody !== undefined ? 'POST' : 'GET'),
    headers: { 'content-type': 'application/json', ...init.headers },
    body: init.rawBody ?? (init.body === undefined ? undefined : JSON.stringify(init.body)),
  });
  const text = await response.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON
  }
  return { status: response.status, body, headers: response.headers };
}

/**
 * Registers the hooks most HTTP tests share: before the file's tests, a fresh test database and the scheduler
 * app on it (handed to `started`); after them, both stopped.
 */
export function useSchedulerApp(
  options: Parameters<typeof startSchedulerApp>[1],
  started: (running: { db: TestDatabase; app: SchedulerUnderTest }) => void,
): void {
  let running: { db: TestDatabase; app: SchedulerUnderTest } | undefined;
  beforeAll(async () => {
    const db = await createTestDatabase();
    running = { db, app: await startSchedulerApp(db, options) };
    started(running);
  });
  afterAll(async () => {
    await running?.app.stop();
    await running?.db.drop();
  });
}
