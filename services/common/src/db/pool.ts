import pg from 'pg';
import type { DatabaseConfig } from '../config';
import type { Logger } from '../logger';

// COUNT(*) and BIGSERIAL ids arrive as int8; as JavaScript numbers they stay exact below 2^53, far beyond
// any count or id this table will see, and saves every caller a Number().
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;

/**
 * The settings node-postgres needs for one connection, from DATABASE_URL or the POSTGRES_* variables. TCP
 * keepalive on every connection (the pools' and the LISTEN client's), so a peer that vanished without a FIN
 * (a node lost, a NAT entry dropped) is noticed by the kernel instead of never.
 */
export function connectionSettings(config: DatabaseConfig): pg.ClientConfig {
  const common = {
    connectionTimeoutMillis: config.connectTimeoutMs,
    keepAlive: true,
    keepAliveInitialDelayMillis: config.keepAliveIdleMs,
  };
  if (config.connectionString) return { ...common, connectionString: config.connectionString };
  return {
    ...common,
    host: config.host,
    port: config.port,
    database: config.database,
    user: config.user,
    password: config.password,
  };
}

/** Where the database is, for messages: never includes the password. */
export function describeDatabase(config: DatabaseConfig): string {
  if (config.connectionString) {
    try {
      const url = new URL(config.connectionString);
      return `${url.hostname}:${url.port || 5432}${url.pathname}`;
    } catch {
      return '(DATABASE_URL)';
    }
  }
  return `${config.host}:${config.port}/${config.database}`;
}

/**
 * One pool per service. An idle client's error (the server restarted) is logged, never thrown. Every query
 * is bounded twice: the server cancels a statement after statement_timeout (the connection stays usable),
 * and the client gives up after query_timeout, longer, for when no answer can come at all (a half-open
 * connection): the query fails and the pool drops that connection. So neither the dispatch loop nor the
 * status recorder can wait forever on the database. 0 turns either off.
 */
export function createPool(config: DatabaseConfig, logger: Logger, applicationName: string): Pool {
  const pool = new pg.Pool({
    ...connectionSettings(config),
    max: config.poolSize,
    idleTimeoutMillis: config.idleTimeoutMs,
    application_name: applicationName,
    ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
    ...(config.queryTimeoutMs > 0 ? { query_timeout: config.queryTimeoutMs } : {}),
  });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection failed'));
  return pool;
}

/**
 * Waits until the database answers, so a service started beside its database (compose, Kubernetes) waits
 * instead of crashing. Throws after `timeoutMs` with the last connection error and where it tried.
 */
export async function waitForDatabase(pool: Pool, config: DatabaseConfig, logger: Logger, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 1; ; attempt++) {
    try {
      await pool.query('SELECT 1');
      return;
    } catch (err) {
      const message = (err as Error).message;
      if (Date.now() >= deadline) {
        throw new Error(`database unreachable at ${describeDatabase(config)}: ${message}`);
      }
      if (attempt === 1 || attempt % 10 === 0) {
        logger.warn({ database: describeDatabase(config), err: message }, 'waiting for the database');
      }
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}
