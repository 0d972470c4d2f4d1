import { loadConfig } from '../../services/common/src/config';
import { createCoordinatorClient, type CoordinatorServiceClient } from '../../services/common/src/grpc/contract';
import { createLogger } from '../../services/common/src/logger';
import { startCoordinator, type Coordinator } from '../../services/coordinator/src/coordinator';
import { createTestDatabase, type TestDatabase } from './database';
import { freePort } from './ports';

export interface TestCoordinator {
  readonly coordinator: Coordinator;
  /** host:port, on loopback. */
  readonly address: string;
  readonly client: CoordinatorServiceClient;
  stop(): Promise<void>;
}

/**
 * A real coordinator in this process on a free loopback port, against a test database, configured by `env`
 * as its environment variables would configure it, with a client to it. For tests that need no process
 * boundary between the coordinator and themselves.
 */
export async function startTestCoordinator(db: TestDatabase, env: Record<string, string> = {}): Promise<TestCoordinator> {
  const loaded = loadConfig(env);
  const config = { ...loaded.coordinator, port: await freePort() };
  const coordinator = await startCoordinator({ config, database: db.config, pool: db.pool, logger: createLogger('test', 'silent'), host: '127.0.0.1', grpc: loaded.grpc });
  const address = `127.0.0.1:${coordinator.port}`;
  const client = createCoordinatorClient(address);
  return {
    coordinator,
    address,
    client,
    async stop() {
      client.close();
      await coordinator.stop();
    },
  };
}

/**
 * Registers the hooks of a file whose tests share one coordinator: before them, a fresh test database and a
 * coordinator on it (handed to `started`); after them, both stopped.
 */
export function useTestCoordinator(
  env: Record<string, string>,
  started: (running: TestCoordinator & { db: TestDatabase }) => void,
): void {
  let running: (TestCoordinator & { db: TestDatabase }) | undefined;
  beforeAll(async () => {
    const db = await createTestDatabase();
    running = { ...(await startTestCoordinator(db, env)), db };
    started(running);
  });
  afterAll(async () => {
    await running?.stop();
    await running?.db.drop();
  });
}
