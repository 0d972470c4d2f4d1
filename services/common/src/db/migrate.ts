import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SCHEMA, withoutQueryTimeout, type Pool } from './pool';
import { repoRoot } from '../paths';
import { grantServiceRole, type ServiceRole } from './grant-service-role';

export interface Migration {
  readonly version: string;
  readonly sql: string;
}

/** db/migrations/NNNN_name.sql, in order. Files are append-only: an applied file is never edited. */
export function readMigrations(dir = join(repoRoot(), 'db', 'migrations')): Migration[] {
  return readdirSync(dir)
    .filter((file) => /^\d+_[\w-]+\.sql$/.test(file))
    .sort()
    .map((file) => ({ version: file.replace(/\.sql$/, ''), sql: readFileSync(join(dir, file), 'utf8') }));
}

// Any constant works; it only has to be the same for every process that migrates this database.
const MIGRATION_LOCK = 7_283_114;
/*
 * Migrations are exempt from the pool's timeouts (pool.ts): rewriting a large table, or waiting for another
 * process's migration, legitimately takes longer. The server-side limit is lifted for the transaction, the
 * client-side one for the migration's client.
 */

/*
 * Installs migrated before 0007 keep their ledger in public.schema_migrations; it moves into taskmaster before
 * it is read, and 0007 then moves the rest. Only our own ledger moves: schema_migrations is a common name
 * (Rails and golang-migrate use it), so it must have a `version` column holding our first migration, beside
 * a public.tasks. Run under the migration lock, in the migration's transaction.
 */
const MOVE_LEDGER_FROM_PUBLIC = `
  DO $$
  BEGIN
    IF to_regclass('taskmaster.schema_migrations') IS NULL
       AND to_regclass('public.schema_migrations') IS NOT NULL
       AND to_regclass('public.tasks') IS NOT NULL
       AND EXISTS (SELECT 1 FROM pg_attribute
                   WHERE attrelid = to_regclass('public.schema_migrations') AND attname = 'version' AND NOT attisdropped) THEN
      IF EXISTS (SELECT 1 FROM public.schema_migrations WHERE version::text = '0001_init') THEN
        ALTER TABLE public.schema_migrations SET SCHEMA taskmaster;
      END IF;
    END IF;
  END
  $$`;

export interface MigrateOptions {
  /** MIGRATE_GRANT_ROLE (and its password): the services' role, given their rights on every object once migrated (grant-service-role.ts). */
  grantTo?: ServiceRole;
}

/**
 * Applies the migrations not yet recorded in taskmaster.schema_migrations, all in one transaction under a
 * transaction advisory lock, creating every object in the schema taskmaster. Guarantees: concurrent callers (several pods starting, the chart's Job) apply each file
 * exactly once, the second waiting for the first; a failing file rolls back every file of this run, so the
 * schema is never half-migrated. With `grantTo`, the grants are part of the same transaction: the services'
 * role never sees a table it has no rights on. Returns the versions applied now.
 */
export async function migrate(pool: Pool, migrations = readMigrations(), options: MigrateOptions = {}): Promise<string[]> {
  const client = withoutQueryTimeout(await pool.connect());
  try {
    await client.query('BEGIN');
    await client.query('SET LOCAL statement_timeout = 0');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    // Every migration, old or new, creates its objects in taskmaster, whatever the pool's search_path.
    await client.query(`CREATE SCHEMA IF NOT EXISTS ${SCHEMA}`);
    await client.query(`SET LOCAL search_path = ${SCHEMA}`);
    await client.query(MOVE_LEDGER_FROM_PUBLIC);
    await client.query(
      `CREATE TABLE IF NOT EXISTS schema_migrations (
         version    TEXT PRIMARY KEY,
         applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
       )`,
    );
    const { rows } = await client.query<{ version: string }>('SELECT version FROM schema_migrations');
    const applied = new Set(rows.map((row) => row.version));
    const pending = migrations.filter((migration) => !applied.has(migration.version));
    for (const migration of pending) {
      try {
        await client.query(migration.sql);
      } catch (err) {
        throw new Error(`migration ${migration.version} failed: ${(err as Error).message}`);
      }
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
    }
    if (options.grantTo !== undefined) await grantServiceRole(client, options.grantTo);
    await client.query('COMMIT');
    return pending.map((migration) => migration.version);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    client.release();
  }
}
