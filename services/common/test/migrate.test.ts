import pg from 'pg';
import { migrate, readMigrations } from '../src/db/migrate';
import { createPool } from '../src/db/pool';
import { createLogger } from '../src/logger';
import type { DatabaseConfig } from '../src/config';

// Starts from an empty database (not the migrated template) to exercise the migrator itself.
async function emptyDatabase(): Promise<{ config: DatabaseConfig; drop: () => Promise<void> }> {
  const admin = process.env.TASKMASTER_TEST_ADMIN_URL!;
  const name = `migrate_${Date.now()}_${Math.floor(Math.random() * 1e6)}`;
  const client = new pg.Client({ connectionString: admin });
  await client.connect();
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  const url = new URL(admin);
  url.pathname = `/${name}`;
  return {
    config: { connectionString: url.toString(), host: '', port: 0, database: name, user: '', password: '', poolSize: 10, connectTimeoutMs: 2000, idleTimeoutMs: 1000, statementTimeoutMs: 30_000, queryTimeoutMs: 35_000, keepAliveIdleMs: 10_000 },
    drop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}

describe('migrate', () => {
  test('applies every migration exactly once, even when several processes migrate at the same time', async () => {
    const db = await emptyDatabase();
    const pools = [1, 2, 3].map(() => createPool(db.config, createLogger('test', 'silent'), 'migrate-test'));
    try {
      const results = await Promise.all(pools.map((pool) => migrate(pool)));
      const all = readMigrations().map((m) => m.version);
      // One caller applied everything; the others waited on the advisory lock and found nothing to do.
      expect(results.map((r) => r.length).sort()).toEqual([0, 0, all.length]);
      expect(results.flat()).toEqual(all);
      const { rows } = await pools[0].query('SELECT version FROM schema_migrations ORDER BY version');
      expect(rows.map((r) => r.version)).toEqual(all);
      expect(await migrate(pools[0])).toEqual([]);
    } finally {
      await Promise.all(pools.map((pool) => pool.end()));
      await db.drop();
    }
  });

  test('a failing migration leaves the schema untouched', async () => {
    const db = await emptyDatabase();
    const pool = createPool(db.config, createLogger('test', 'silent'), 'migrate-test');
    try {
      const broken = [...readMigrations(), { version: '9999_broken', sql: 'SELECT * FROM no_such_table' }];
      await expect(migrate(pool, broken)).rejects.toThrow(/migration 9999_broken failed/);
      const { rows } = await pool.query("SELECT to_regclass('public.tasks') AS tasks, to_regclass('public.schema_migrations') AS ledger");
      expect(rows[0]).toEqual({ tasks: null, ledger: null });
    } finally {
      await pool.end();
      await db.drop();
    }
  });
});
