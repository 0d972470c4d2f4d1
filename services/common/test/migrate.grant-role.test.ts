/**
 * Two database roles: `migrate` runs as the owner of the schema and gives the services' role (MIGRATE_GRANT_ROLE)
 * rights on rows only. Shown on the shared test PostgreSQL with an owner that is not a superuser, as on a
 * managed database; roles are cluster-wide there, so every name here is unique to the run and dropped after.
 */
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import pg from 'pg';
import type { DatabaseConfig } from '../src/config';
import { loadConfig } from '../src/config';
import { migrate } from '../src/db/migrate';
import { createPool, type Pool } from '../src/db/pool';
import { createLogger } from '../src/logger';
import type { TestDatabase } from '../../../test/helpers/database';
import { request, startSchedulerApp, type SchedulerUnderTest } from '../../../test/helpers/scheduler-app';
import { waitFor } from '../../../test/helpers/wait';
import { configProblems } from '../../../test/helpers/config-problems';

const logger = createLogger('test', 'silent');
const suffix = randomBytes(4).toString('hex');
const OWNER = `tm_owner_${suffix}`;
const SERVICES = `tm_services_${suffix}`;
const EXISTING = `tm_existing_${suffix}`;
const DATABASE = `grant_${suffix}`;
const PASSWORD = `pw-${suffix}-it's "quoted"`;

function adminUrl(): string {
  const url = process.env.TASKMASTER_TEST_ADMIN_URL;
  if (!url) throw new Error('TASKMASTER_TEST_ADMIN_URL is not set: run the tests through jest (global setup)');
  return url;
}

/** The test database's settings, logging in as `user`. */
function databaseAs(user: string, password: string): DatabaseConfig {
  const url = new URL(adminUrl());
  url.username = encodeURIComponent(user);
  url.password = encodeURIComponent(password);
  url.pathname = `/${DATABASE}`;
  return loadConfig({ DATABASE_URL: url.toString() }).database;
}

async function asAdmin(sql: string): Promise<void> {
  const admin = new pg.Client({ connectionString: adminUrl() });
  await admin.connect();
  try {
    await admin.query(sql);
  } finally {
    await admin.end();
  }
}

describe('migrate with MIGRATE_GRANT_ROLE', () => {
  const pools: Pool[] = [];
  const poolAs = (user: string, password: string): Pool => {
    const pool = createPool(databaseAs(user, password), logger, 'grant-test');
    pools.push(pool);
    return pool;
  };
  let owner: Pool;
  let services: Pool;

  beforeAll(async () => {
    // CREATEROLE: the owner creates the services' role itself, as the chart's bundled database has it do.
    await asAdmin(`CREATE ROLE ${OWNER} LOGIN CREATEROLE PASSWORD 'owner-${suffix}'`);
    await asAdmin(`CREATE DATABASE ${DATABASE} OWNER ${OWNER}`);
    owner = poolAs(OWNER, `owner-${suffix}`);
    // Three at once, as several pods starting would: the grants run under the migration lock.
    await Promise.all([owner, poolAs(OWNER, `owner-${suffix}`), poolAs(OWNER, `owner-${suffix}`)].map((pool) =>
      migrate(pool, undefined, { grantTo: { name: SERVICES, password: PASSWORD } })));
    services = poolAs(SERVICES, PASSWORD);
  });

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await asAdmin(`DROP DATABASE IF EXISTS ${DATABASE} WITH (FORCE)`);
    for (const role of [SERVICES, EXISTING, OWNER]) await asAdmin(`DROP ROLE IF EXISTS ${role}`);
  });

  it('creates the services’ role as a plain login role with the password given', async () => {
    const { rows } = await services.query('SELECT current_user AS me, rolsuper, rolcreaterole, rolcreatedb FROM pg_roles WHERE rolname = current_user');
    expect(rows[0]).toEqual({ me: SERVICES, rolsuper: false, rolcreaterole: false, rolcreatedb: false });
  });

  describe('as the services’ role, real work', () => {
    let app: SchedulerUnderTest;
    beforeAll(async () => {
      const config = databaseAs(SERVICES, PASSWORD);
      const db: TestDatabase = { url: config.connectionString!, name: DATABASE, config, pool: services, env: { DATABASE_URL: config.connectionString! }, drop: async () => {} };
      app = await startSchedulerApp(db);
    });
    afterAll(async () => {
      await app?.stop();
    });

    it('enqueues through the API, dispatches through the coordinator to a worker process, and records success', async () => {
      const scheduled = await request(`${app.url}/api/schedule`, { body: { command: 'noop', scheduled_at: new Date().toISOString() } });
      expect(scheduled.status).toBe(201);
      await app.scaler.scale(1);
      let status = '';
      await waitFor(async () => {
        status = (await request(`${app.url}/api/status?task_id=${scheduled.body.task_id}`)).body.status;
        return status === 'succeeded';
      }, 30_000, () => `the task to succeed (it is ${status})`);
      const { rows } = await services.query<{ n: number }>("SELECT count(*)::int AS n FROM events WHERE task_id = $1", [scheduled.body.task_id]);
      expect(rows[0].n).toBeGreaterThan(1);
    }, 60_000);
  });

  it.each([
    ['CREATE TABLE', 'CREATE TABLE intruder (id int)'],
    ['CREATE TABLE in public', 'CREATE TABLE public.intruder (id int)'],
    ['ALTER TABLE', 'ALTER TABLE tasks ADD COLUMN intruder int'],
    ['DROP TABLE', 'DROP TABLE tasks'],
    ['TRUNCATE', 'TRUNCATE tasks'],
    ['CREATE FUNCTION', 'CREATE FUNCTION intruder() RETURNS int LANGUAGE sql AS $$ SELECT 1 $$'],
    ['writing the migration ledger', "DELETE FROM schema_migrations WHERE version = '0001_init'"],
  ])('refuses the services’ role %s', async (_what, sql) => {
    await expect(services.query(sql)).rejects.toMatchObject({ code: '42501' });
  });

  it('lets the services’ role read the migration ledger and call the SQL enqueue function', async () => {
    const { rows } = await services.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(rows[0].n).toBeGreaterThan(10);
    const enqueued = await services.query<{ id: string }>("SELECT taskmaster.enqueue('grant-test', '{}'::jsonb) AS id");
    expect(enqueued.rows[0].id).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('grants an existing role (an external database’s) without touching its password', async () => {
    await asAdmin(`CREATE ROLE ${EXISTING} LOGIN PASSWORD 'existing-${suffix}'`);
    const existing = poolAs(EXISTING, `existing-${suffix}`);
    await expect(existing.query('SELECT count(*) FROM taskmaster.tasks')).rejects.toMatchObject({ code: '42501' });
    expect(await migrate(owner, undefined, { grantTo: { name: EXISTING } })).toEqual([]);
    await expect(existing.query('SELECT count(*) FROM tasks')).resolves.toBeDefined();
    await expect(existing.query('DROP TABLE tasks')).rejects.toMatchObject({ code: '42501' });
  });

  it('is what the migration Job runs: migrate-main reads MIGRATE_GRANT_ROLE and MIGRATE_GRANT_ROLE_PASSWORD', () => {
    // The compiled entry point (npm test builds first), configured by environment variables only, as in the chart.
    const run = (env: Record<string, string>) => spawnSync(process.execPath, [join(__dirname, '..', '..', '..', 'dist', 'services', 'common', 'src', 'db', 'migrate-main.js')], {
      env: { PATH: process.env.PATH, DATABASE_URL: databaseAs(OWNER, `owner-${suffix}`).connectionString, LOG_LEVEL: 'info', ...env },
      encoding: 'utf8',
      timeout: 60_000,
    });
    const granted = run({ MIGRATE_GRANT_ROLE: SERVICES, MIGRATE_GRANT_ROLE_PASSWORD: PASSWORD });
    expect(granted.stderr).toBe('');
    expect(granted.status).toBe(0);
    expect(granted.stdout).toContain('granted the services their rights');
    const missing = run({ MIGRATE_GRANT_ROLE: `tm_absent_${suffix}` });
    expect(missing.status).toBe(1);
    expect(missing.stderr).toContain(`MIGRATE_GRANT_ROLE: role "tm_absent_${suffix}" does not exist`);
  });

  it.each([
    [`tm_missing_${suffix}`, 'does not exist; create it first'],
    [OWNER, 'is the role migrating'],
    ['postgres', 'is a superuser'],
    ['public', 'is a reserved role name'],
    ['pg_read_all_data', 'starts with pg_'],
    ['x"; DROP TABLE tasks; --', 'must be 1 to 63 letters'],
  ])('refuses to grant to %s', async (role, message) => {
    await expect(migrate(owner, undefined, { grantTo: { name: role } })).rejects.toThrow(message);
    const { rows } = await owner.query<{ n: number }>("SELECT count(*)::int AS n FROM pg_tables WHERE tablename = 'tasks'");
    expect(rows[0].n).toBe(1);
  });

  it('reads MIGRATE_GRANT_ROLE and its password from the environment, refusing a bad name or a password alone', () => {
    expect(loadConfig({ MIGRATE_GRANT_ROLE: 'taskmaster_app', MIGRATE_GRANT_ROLE_PASSWORD: 's3cret' }).database).toMatchObject({
      migrateGrantRole: 'taskmaster_app', migrateGrantRolePassword: 's3cret',
    });
    expect(configProblems({ MIGRATE_GRANT_ROLE: 'app role' })).toEqual(['MIGRATE_GRANT_ROLE="app role" must be 1 to 63 letters, digits, "_", "." or "-", starting with a letter or "_"']);
    expect(configProblems({ MIGRATE_GRANT_ROLE_PASSWORD: 'x' })).toEqual(['MIGRATE_GRANT_ROLE_PASSWORD needs MIGRATE_GRANT_ROLE']);
  });
});
