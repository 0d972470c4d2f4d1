import pg from 'pg';
import type { DatabaseConfig } from '../config';
import type { Logger } from '../logger';
import { databaseTls, describeConnectError } from './tls';

// COUNT(*) and BIGSERIAL ids arrive as int8; as JavaScript numbers they stay exact below 2^53, far beyond
// any count or id this table will see, and saves every caller a Number().
pg.types.setTypeParser(pg.types.builtins.INT8, (text) => Number(text));

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
/** A pool or one client of it (inside a transaction): what a single statement needs. */
export type Queryable = Pick<pg.ClientBase, 'query'>;

/** The schema that holds every TaskMaster table, type and function (migration 0007). */
export const SCHEMA = 'taskmaster';

/*
 * Our sessions find our tables by their unqualified names in taskmaster, and only there: with public in the
 * path too, a query against a database not yet migrated to 0007 (or a name we do not have) would quietly
 * read an application's table of that name instead of failing. Sent as a startup parameter, so it costs no
 * round trip and holds for every client, pooled or the listener's. A DATABASE_URL that carries its own
 * `options` keeps them, with ours added.
 */
export const SEARCH_PATH_OPTIONS = `-c search_path=${SCHEMA}`;

function withSearchPath(connectionString: string): string {
  let url: URL;
  try {
    url = new URL(connectionString);
  } catch {
    return connectionString; // not a URL (a socket path): `options` in the client config applies
  }
  const theirs = url.searchParams.get('options');
  if (theirs === null) return connectionString;
  url.searchParams.set('options', `${theirs} ${SEARCH_PATH_OPTIONS}`);
  return url.toString();
}

/**
 * The settings node-postgres needs for one connection, from DATABASE_URL or the POSTGRES_* variables. TCP
 * keepalive on every connection (the pools' and the LISTEN client's), so a peer that vanished without a FIN
 * (a node lost, a NAT entry dropped) is noticed by the kernel instead of never. TLS from DATABASE_SSLMODE and
 * DATABASE_SSL_CA (tls.ts); a DATABASE_URL's own sslmode wins, as node-postgres merges the URL last.
 */
export function connectionSettings(config: DatabaseConfig): pg.ClientConfig {
  const ssl = databaseTls(config);
  const common = {
    connectionTimeoutMillis: config.connectTimeoutMs,
    options: SEARCH_PATH_OPTIONS,
    keepAlive: true,
    keepAliveInitialDelayMillis: config.keepAliveIdleMs,
    ...(ssl === undefined ? {} : { ssl }),
  };
  if (config.connectionString) return { ...common, connectionString: withSearchPath(config.connectionString) };
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
 * and the client gives up after DB_QUERY_TIMEOUT, longer, for when no answer can come at all (a half-open
 * connection): the connection is closed, its query fails and the pool drops it (closeStuckClients). So
 * neither the dispatch loop nor the status recorder can wait forever on the database. 0 turns either off.
 */
export function createPool(
  config: DatabaseConfig, logger: Logger, applicationName: string, options: { sessionOptions?: string } = {},
): Pool {
  const settings = connectionSettings(config);
  const pool = new pg.Pool({
    ...settings,
    ...(options.sessionOptions ? { options: `${settings.options ?? ''} ${options.sessionOptions}`.trim() } : {}),
    max: config.poolSize,
    idleTimeoutMillis: config.idleTimeoutMs,
    application_name: applicationName,
    ...(config.statementTimeoutMs > 0 ? { statement_timeout: config.statementTimeoutMs } : {}),
  });
  pool.on('error', (err) => logger.warn({ err: err.message }, 'idle database connection failed'));
  if (config.queryTimeoutMs > 0) closeStuckClients(pool, config.queryTimeoutMs, logger);
  return pool;
}

const CHECKED_OUT_AT = Symbol('checkedOutAt');

/** Clients that may stay checked out for as long as they need (a migration's). */
const unbounded = new WeakSet<pg.PoolClient>();

/** Exempts a checked-out client from DB_QUERY_TIMEOUT until it is released. */
export function withoutQueryTimeout(client: PoolClient): PoolClient {
  unbounded.add(client);
  return client;
}

/*
 * The client-side bound: a client checked out for longer than `timeoutMs` (by pool.query, one query; by
 * pool.connect, one transaction) is closed, which fails its query ("Connection terminated") and makes the
 * pool drop it. One timer per pool looks at the checked-out clients; node-postgres' own query_timeout starts
 * a timer for every query, and with it the coordinator moved four times as much to its old generation under
 * load, tens of MB of peak RSS (docs/performance.md). end() on a client with a query in
 * flight destroys its socket at once and emits no 'error', which a client checked out by pool.connect() has
 * no listener for.
 */
function closeStuckClients(pool: pg.Pool, timeoutMs: number, logger: Logger): void {
  // The checkout time is kept on the client, not in a Map: two Map updates per query churned its table.
  const clients = new Set<pg.PoolClient & { [CHECKED_OUT_AT]?: number }>();
  pool.on('connect', (client) => clients.add(client));
  pool.on('remove', (client) => clients.delete(client));
  pool.on('acquire', (client: pg.PoolClient & { [CHECKED_OUT_AT]?: number }) => {
    client[CHECKED_OUT_AT] = performance.now();
  });
  pool.on('release', (_err, client: pg.PoolClient & { [CHECKED_OUT_AT]?: number }) => {
    client[CHECKED_OUT_AT] = 0;
    unbounded.delete(client);
  });
  const timer = setInterval(() => {
    if ((pool as pg.Pool & { ending?: boolean }).ending) {
      clearInterval(timer);
      return;
    }
    const now = performance.now();
    for (const client of clients) {
      const since = client[CHECKED_OUT_AT] ?? 0;
      if (since === 0 || now - since < timeoutMs || unbounded.has(client)) continue;
      client[CHECKED_OUT_AT] = 0;
      logger.warn({ timeout_ms: timeoutMs }, 'no answer from the database within DB_QUERY_TIMEOUT: closing the connection');
      client.end().catch(() => undefined);
    }
  }, Math.min(1000, Math.max(50, timeoutMs / 10)));
  timer.unref();
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
      const message = describeConnectError(err, config);
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
