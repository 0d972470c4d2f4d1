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
      const { rows } = await pool.query(
        "SELECT to_regnamespace('taskmaster') AS schema, to_regclass('public.tasks') AS tasks, to_regclass('public.schema_migrations') AS ledger",
      );
      expect(rows[0]).toEqual({ schema: null, tasks: null, ledger: null });
    } finally {
      await pool.end();
      await db.drop();
    }
  });

  test('an install migrated into public before 0007 moves into taskmaster with its data, and its triggers work from any session', async () => {
    const db = await emptyDatabase();
    // The old migrator: no search_path of its own, so everything went into public, ledger included.
    const old = new pg.Client({ connectionString: db.config.connectionString });
    await old.connect();
    const pool = createPool(db.config, createLogger('test', 'silent'), 'migrate-test');
    try {
      await old.query('CREATE TABLE schema_migrations (version TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())');
      const before0007 = readMigrations().filter((m) => m.version < '0007');
      expect(before0007.map((m) => m.version)).toHaveLength(6);
      for (const migration of before0007) {
        await old.query(migration.sql);
        await old.query('INSERT INTO schema_migrations (version) VALUES ($1)', [migration.version]);
      }
      const { rows: [task] } = await old.query(
        "INSERT INTO tasks (command, scheduled_at, payload) VALUES ('noop', now(), '{\"kept\": true}') RETURNING id",
      );
      await old.query("UPDATE tasks SET status = 'dispatched', attempt = 1, worker_id = 7 WHERE id = $1", [task.id]);
      const { rows: oldEvents } = await old.query('SELECT id, type FROM events ORDER BY id');
      expect(oldEvents.map((e) => e.type)).toEqual(['scheduled', 'assigned']);

      expect(await migrate(pool)).toEqual(readMigrations().filter((m) => m.version >= '0007').map((m) => m.version));

      const { rows: [place] } = await old.query(`SELECT
        to_regclass('public.tasks') AS public_tasks, to_regclass('public.events') AS public_events,
        to_regclass('public.schema_migrations') AS public_ledger, to_regtype('public.task_status') AS public_type,
        to_regclass('taskmaster.events_id_seq')::text AS sequence,
        (SELECT count(*) FROM pg_proc WHERE pronamespace = 'public'::regnamespace) AS public_functions`);
      expect(place).toEqual({ public_tasks: null, public_events: null, public_ledger: null, public_type: null, sequence: 'taskmaster.events_id_seq', public_functions: 0 });
      const { rows: moved } = await pool.query('SELECT id, command, status, worker_id, payload FROM tasks');
      expect(moved).toEqual([{ id: task.id, command: 'noop', status: 'dispatched', worker_id: 7, payload: { kept: true } }]);
      const { rows: ledger } = await pool.query('SELECT version FROM schema_migrations ORDER BY version');
      expect(ledger.map((r) => r.version)).toEqual(readMigrations().map((m) => m.version));

      // A session whose search_path is public's: the triggers still find their tables, and the sequence goes on.
      await old.query("UPDATE taskmaster.tasks SET status = 'succeeded', completed_at = now() WHERE id = $1", [task.id]);
      const { rows: events } = await pool.query('SELECT id, type, command FROM events ORDER BY id');
      expect(events.map((e) => e.type)).toEqual(['scheduled', 'assigned', 'started', 'completed']);
      expect(events.slice(0, 2).map((e) => e.id)).toEqual(oldEvents.map((e) => e.id));
      expect(events[3].id).toBeGreaterThan(oldEvents[1].id);
      expect(await migrate(pool)).toEqual([]);
    } finally {
      await old.end();
      await pool.end();
      await db.drop();
    }
  });

  test("a new install leaves an application's own tasks, events and schema_migrations in public alone", async () => {
    const db = await emptyDatabase();
    const app = new pg.Client({ connectionString: db.config.connectionString });
    await app.connect();
    const pool = createPool(db.config, createLogger('test', 'silent'), 'migrate-test');
    try {
      // Rails keeps its ledger in schema_migrations(version) too.
      await app.query(`CREATE TABLE schema_migrations (version TEXT PRIMARY KEY);
                       INSERT INTO schema_migrations VALUES ('20240101120000');
                       CREATE TABLE tasks (id SERIAL PRIMARY KEY, title TEXT NOT NULL);
                       INSERT INTO tasks (title) VALUES ('write the report');
                       CREATE TABLE events (id SERIAL PRIMARY KEY, what TEXT)`);
      expect(await migrate(pool)).toEqual(readMigrations().map((m) => m.version));
      const { rows: [counts] } = await app.query(`SELECT
        (SELECT array_agg(version) FROM public.schema_migrations) AS app_ledger,
        (SELECT array_agg(title) FROM public.tasks) AS app_tasks,
        (SELECT count(*) FROM public.events)::int AS app_events,
        (SELECT count(*) FROM taskmaster.schema_migrations)::int AS our_ledger`);
      expect(counts).toEqual({ app_ledger: ['20240101120000'], app_tasks: ['write the report'], app_events: 0, our_ledger: readMigrations().length });
      await pool.query("INSERT INTO tasks (command, scheduled_at) VALUES ('noop', now())");
      const { rows } = await pool.query('SELECT type, command FROM events');
      expect(rows).toEqual([{ type: 'scheduled', command: 'noop' }]);
    } finally {
      await app.end();
      await pool.end();
      await db.drop();
    }
  });
});
