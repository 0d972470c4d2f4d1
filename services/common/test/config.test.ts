import { loadConfig } from '../src/config';
import { ConfigError } from '../src/errors';

describe('loadConfig', () => {
  test('uses the original design defaults when nothing is set', () => {
    const config = loadConfig({});
    expect(config.scheduler.port).toBe(8081);
    expect(config.coordinator.port).toBe(8080);
    expect(config.worker.coordinatorAddress).toBe('localhost:8080');
    expect(config.database).toMatchObject({ host: 'localhost', port: 5432, database: 'scheduler', user: 'postgres', poolSize: 20, connectTimeoutMs: 2000, idleTimeoutMs: 30_000 });
    expect(config.worker.poolSize).toBe(5);
    expect(config.worker.taskProcessTimeMs).toBe(5000);
    expect(config.coordinator.heartbeatIntervalMs).toBe(5000);
    expect(config.coordinator.maxMissedHeartbeats).toBe(3);
    expect(Object.isFrozen(config.database)).toBe(true);
  });

  test('reads ports written the original way (":8081") and durations in several units', () => {
    const config = loadConfig({ SCHEDULER_PORT: ':9000', COORDINATOR_PORT: '9001', TASK_PROCESS_TIME: '0.25', HEARTBEAT_INTERVAL: '500ms' });
    expect(config.scheduler.port).toBe(9000);
    expect(config.coordinator.port).toBe(9001);
    expect(config.worker.taskProcessTimeMs).toBe(250);
    expect(config.worker.heartbeatIntervalMs).toBe(500);
  });

  test('reports every bad variable at once, by name', () => {
    let error: unknown;
    try {
      loadConfig({ SCHEDULER_PORT: 'http', WORKER_POOL_SIZE: '0', COORDINATOR_ADDRESS: 'nohost', DATABASE_URL: 'mysql://x', LOG_LEVEL: 'loud' });
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    for (const name of ['SCHEDULER_PORT', 'WORKER_POOL_SIZE', 'COORDINATOR_ADDRESS', 'DATABASE_URL', 'LOG_LEVEL']) {
      expect(problems).toContain(name);
    }
    expect((error as ConfigError).problems).toHaveLength(5);
  });

  test('names a worker after its pod when WORKER_NAME is not set', () => {
    expect(loadConfig({ POD_NAME: 'taskmaster-worker-abc' }).worker.name).toBe('taskmaster-worker-abc');
    expect(loadConfig({ WORKER_ID: '42' }).worker.name).toBe('worker-42');
  });
});
