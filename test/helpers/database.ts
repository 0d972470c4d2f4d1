import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createPool, type Pool } from '../../services/common/src/db/pool';
import { createLogger } from '../../services/common/src/logger';
import type { DatabaseConfig } from '../../services/common/src/config';
import { waitFor } from './wait';

export interface TestDatabase {
  readonly url: string;
  readonly name: string;
  readonly config: DatabaseConfig;
  readonly pool: Pool;
  /** Environment variables that point a service process at this database. */
  readonly env: Record<string, string>;
  drop(): Promise<void>;
}

function adminUrl(): string {
  const url = process.env.TASKMASTER_TEST_ADMIN_URL;
  if (!url) throw new Error('TASKMASTER_TEST_ADMIN_URL is not set: run the tests with `npm test` (jest global setup)');
  return url;
}

/** A fresh, migrated database cloned from the template the global setup made; dropped by drop(). */
export async function createTestDatabase(): Promise<TestDatabase> {
  const name = `test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE taskmaster_template`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl());
  url.pathname = `/${name}`;
  const config: DatabaseConfig = {
    connectionString: url.toString(),
    host: url.hostname,
    port: Number(url.port),
    database: name,
    user: decodeURIComponent(url.username),
    password: decodeURIComponent(url.password),
    poolSize: 10,
    connectTimeoutMs: 2000,
    idleTimeoutMs: 30_000,
    statementTimeoutMs: 30_000,
    queryTimeoutMs: 35_000,
    keepAliveIdleMs: 10_000,
  };
  const pool = createPool(config, createLogger('test', 'silent'), 'taskmaster-test');
  return {
    url: url.toString(),
    name,
    config,
    pool,
    env: { DATABASE_URL: url.toString() },
    async drop() {
      await pool.end();
      const client = new pg.Client({ connectionString: adminUrl() });
      await client.connect();
      try {
        await client.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await client.end();
      }
    },
  };
}

/** Waits until exactly `count` tasks of the test database have succeeded. */
export async function waitForSucceeded(db: TestDatabase, count: number, timeoutMs: number): Promise<void> {
  let seen = 0;
  await waitFor(async () => {
    const { rows } = await db.pool.query("SELECT count(*)::int AS n FROM tasks WHERE status = 'succeeded'");
    seen = rows[0].n;
    return seen === count;
  }, timeoutMs, () => `${count} tasks to succeed (${seen} did)`);
}

/** How many tasks the test database holds: a refused request must have written none. */
export async function countTasks(db: TestDatabase): Promise<number> {
  const { rows } = await db.pool.query<{ n: number }>('SELECT count(*)::int AS n FROM tasks');
  return rows[0].n;
}
