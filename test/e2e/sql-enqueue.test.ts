import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { createTestDatabase, type TestDatabase } from '../helpers/database';
import { startCluster, type Cluster } from '../helpers/processes';
import { waitFor } from '../helpers/wait';

/**
 * taskmaster.enqueue() from an application's own session and transaction (docs/sql-enqueue.md). The
 * application connects as applications do, with the default search_path, and has a `tasks` table of its own
 * in public, which TaskMaster must never touch.
 */

jest.setTimeout(120_000);

let db: TestDatabase;
let app: pg.Client;

async function appClient(): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: db.url });
  await client.connect();
  return client;
}

async function errorOf(promise: Promise<unknown>): Promise<pg.DatabaseError> {
  try {
    await promise;
  } catch (err) {
    return err as pg.DatabaseError;
  }
  throw new Error('expected the call to fail');
}

beforeAll(async () => {
  db = await createTestDatabase();
  app = await appClient();
  await app.query(`CREATE TABLE public.tasks (id SERIAL PRIMARY KEY, title TEXT NOT NULL);
                   CREATE TABLE public.orders (id SERIAL PRIMARY KEY, item TEXT NOT NULL)`);
  const { rows: [path] } = await app.query('SHOW search_path');
  expect(path.search_path).toBe('"$user", public');
});
afterAll(async () => {
  await app?.end();
  await db?.drop();
});

test('enqueued in a transaction that commits: the task, its scheduled event and a wake-up exist; public.tasks is untouched', async () => {
  const listener = await appClient();
  const woken = new Promise<string>((resolve) => listener.on('notification', (n) => resolve(n.channel)));
  await listener.query('LISTEN taskmaster_tasks');
  try {
    await app.query('BEGIN');
    const { rows: [order] } = await app.query("INSERT INTO orders (item) VALUES ('book') RETURNING id");
    const { rows: [{ id }] } = await app.query(
      "SELECT taskmaster.enqueue('send-email', jsonb_build_object('order', $1::int), now(), '{\"queue\": \"emails\"}') AS id", [order.id],
    );
    // Not visible outside the transaction before it commits.
    expect((await db.pool.query('SELECT id FROM tasks WHERE id = $1', [id])).rows).toEqual([]);
    await app.query('COMMIT');
    expect(await woken).toBe('taskmaster_tasks');

    const { rows: [task] } = await db.pool.query('SELECT name, command, queue, payload, status, max_attempts, priority FROM tasks WHERE id = $1', [id]);
    expect(task).toEqual({ name: 'send-email', command: null, queue: 'emails', payload: { order: order.id }, status: 'pending', max_attempts: 3, priority: 0 });
    const { rows: events } = await db.pool.query('SELECT type, command FROM events WHERE task_id = $1', [id]);
    // A named task's events carry its name where a command task's carry the command.
    expect(events).toEqual([{ type: 'scheduled', command: 'send-email' }]);
    const { rows: own } = await app.query('SELECT count(*)::int AS n FROM tasks');
    expect(own[0].n).toBe(0);
  } finally {
    await listener.end();
  }
});

test('enqueued in a transaction that rolls back: no task and no event', async () => {
  await app.query('BEGIN');
  const { rows: [{ id }] } = await app.query("SELECT taskmaster.enqueue('send-email', '{\"to\": \"a@example.com\"}') AS id");
  const { rows: inside } = await app.query('SELECT status FROM taskmaster.tasks WHERE id = $1', [id]);
  expect(inside).toEqual([{ status: 'pending' }]);
  await app.query('ROLLBACK');
  expect((await db.pool.query('SELECT id FROM tasks WHERE id = $1', [id])).rows).toEqual([]);
  expect((await db.pool.query('SELECT id FROM events WHERE task_id = $1', [id])).rows).toEqual([]);
});

test('options: queue, max_attempts, priority and delay_seconds are stored; an idempotency key repeated returns the same task', async () => {
  const runAt = new Date('2031-05-01T10:00:00Z');
  const options = { queue: 'reports', max_attempts: 5, priority: -20, delay_seconds: 90, idempotency_key: `order-${randomBytes(4).toString('hex')}` };
  const first = await app.query('SELECT taskmaster.enqueue($1, $2, $3, $4) AS id', ['build-report', { month: 4 }, runAt, options]);
  const second = await app.query('SELECT taskmaster.enqueue($1, $2, $3, $4) AS id', ['build-report', { month: 5 }, new Date(), options]);
  expect(second.rows[0].id).toBe(first.rows[0].id);
  const { rows } = await db.pool.query('SELECT queue, max_attempts, priority, scheduled_at, payload FROM tasks WHERE idempotency_key = $1', [options.idempotency_key]);
  expect(rows).toEqual([{ queue: 'reports', max_attempts: 5, priority: -20, scheduled_at: new Date(runAt.getTime() + 90_000), payload: { month: 4 } }]);
  const { rows: events } = await db.pool.query('SELECT type FROM events WHERE task_id = $1', [first.rows[0].id]);
  expect(events).toEqual([{ type: 'scheduled' }]);
});

test('options: timeout_seconds and a retry policy are stored as the API stores them', async () => {
  const retry = { backoff: 'fixed', delay_seconds: 2.5, max_delay_seconds: 60, jitter: false };
  const { rows: [made] } = await app.query('SELECT taskmaster.enqueue($1, NULL, now(), $2) AS id', ['build-report', { timeout_seconds: 30, retry }]);
  const { rows } = await db.pool.query('SELECT timeout_seconds, retry FROM tasks WHERE id = $1', [made.id]);
  expect(rows).toEqual([{ timeout_seconds: 30, retry }]);
});

test('two transactions with one idempotency key: the second waits for the first and gets its task if it commits, its own if not', async () => {
  const other = await appClient();
  try {
    const enqueue = (client: pg.Client, key: string) =>
      client.query('SELECT taskmaster.enqueue($1, NULL, now(), $2) AS id', ['send-email', { idempotency_key: key }]).then((r) => r.rows[0].id as string);
    for (const outcome of ['COMMIT', 'ROLLBACK']) {
      const key = `k-${randomBytes(4).toString('hex')}`;
      await app.query('BEGIN');
      const first = await enqueue(app, key);
      await other.query('BEGIN');
      const second = enqueue(other, key);
      // The second blocks on the first's uncommitted key until the first ends.
      await waitFor(async () => (await db.pool.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()",
      )).rows[0].n === 1, 10_000, 'the second enqueue to wait for the first');
      await app.query(outcome);
      const id = await second;
      await other.query('COMMIT');
      if (outcome === 'COMMIT') expect(id).toBe(first);
      else expect(id).not.toBe(first);
      expect((await db.pool.query('SELECT id FROM tasks WHERE idempotency_key = $1', [key])).rows).toEqual([{ id }]);
    }
  } finally {
    await other.end();
  }
});

test('bad input is refused with an error that names the field, and nothing is written', async () => {
  const { rows: [before] } = await db.pool.query('SELECT count(*)::int AS n FROM tasks');
  const cases: Array<[string, unknown[], string]> = [
    ["SELECT taskmaster.enqueue('Send Email')", [], 'name'],
    ['SELECT taskmaster.enqueue(NULL)', [], 'name'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ queue: 'Big Queue' }], 'options.queue'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ max_attempts: 0 }], 'options.max_attempts'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ max_attempts: 2.5 }], 'options.max_attempts'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ priority: 'high' }], 'options.priority'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ delay_seconds: -1 }], 'options.delay_seconds'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ idempotency_key: '' }], 'options.idempotency_key'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ maxAttempts: 2 }], 'options'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), '[1]')", [], 'options'],
    ["SELECT taskmaster.enqueue('ok', NULL, 'infinity')", [], 'run_at'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ timeout_seconds: 0 }], 'options.timeout_seconds'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ timeout_seconds: 604801 }], 'options.timeout_seconds'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ retry: 'fast' }], 'options.retry'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ retry: { backoff: 'linear' } }], 'options.retry'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ retry: { delay: 5 } }], 'options.retry'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ retry: { delay_seconds: -1 } }], 'options.retry.delay_seconds'],
    ["SELECT taskmaster.enqueue('ok', NULL, now(), $1)", [{ retry: { jitter: 'yes' } }], 'options.retry'],
    ["SELECT taskmaster.enqueue_command('   ')", [], 'command'],
  ];
  for (const [sql, values, field] of cases) {
    const err = await errorOf(app.query(sql, values));
    expect({ sql, values, field: err.column, code: err.code }).toEqual({ sql, values, field, code: '22023' });
    expect(err.message).toContain(`taskmaster: ${field} `);
  }
  // The payload limit: taskmaster.payload_max_bytes, 256 KiB unless set.
  await app.query('BEGIN');
  await app.query("SET LOCAL taskmaster.payload_max_bytes = '100'");
  const err = await errorOf(app.query('SELECT taskmaster.enqueue($1, $2)', ['ok', { text: 'x'.repeat(200) }]));
  await app.query('ROLLBACK');
  expect(err.column).toBe('payload');
  expect(err.message).toMatch(/the limit is 100/);
  const big = await errorOf(app.query('SELECT taskmaster.enqueue($1, $2)', ['ok', { text: 'x'.repeat(300_000) }]));
  expect(big.column).toBe('payload');
  const { rows: [after] } = await db.pool.query('SELECT count(*)::int AS n FROM tasks');
  expect(after.n).toBe(before.n);
});

test("the triggers write to TaskMaster's tables whatever the calling session's search_path and temporary tables", async () => {
  const other = await appClient();
  try {
    // A session-local `events` would be found before taskmaster's if the trigger functions did not fix
    // their search_path with pg_temp last.
    await other.query('CREATE TEMPORARY TABLE events (id INT, type TEXT, task_id UUID, attempt INT, command TEXT)');
    const { rows: [{ id }] } = await other.query("SELECT taskmaster.enqueue_command('noop') AS id");
    await other.query("UPDATE taskmaster.tasks SET status = 'cancelled', cancelled_at = now() WHERE id = $1", [id]);
    expect((await other.query('SELECT count(*)::int AS n FROM events')).rows[0].n).toBe(0);
    const { rows } = await db.pool.query('SELECT type, command FROM events WHERE task_id = $1 ORDER BY id', [id]);
    expect(rows).toEqual([{ type: 'scheduled', command: 'noop' }, { type: 'cancelled', command: 'noop' }]);
  } finally {
    await other.end();
  }
});

test('an application role granted EXECUTE can enqueue without any right on the tables; one without cannot', async () => {
  const granted = `tm_app_${randomBytes(4).toString('hex')}`;
  const other = `tm_other_${randomBytes(4).toString('hex')}`;
  await app.query(`CREATE ROLE ${granted}; CREATE ROLE ${other};
                   GRANT USAGE ON SCHEMA taskmaster TO ${granted}, ${other};
                   GRANT EXECUTE ON FUNCTION taskmaster.enqueue(text, jsonb, timestamptz, jsonb) TO ${granted}`);
  try {
    await app.query('BEGIN');
    await app.query(`SET LOCAL ROLE ${granted}`);
    const { rows: [{ id }] } = await app.query("SELECT taskmaster.enqueue('send-email') AS id");
    expect((await errorOf(app.query('SELECT id FROM taskmaster.tasks'))).code).toBe('42501');
    await app.query('ROLLBACK');
    expect(id).toMatch(/^[0-9a-f-]{36}$/);

    await app.query('BEGIN');
    await app.query(`SET LOCAL ROLE ${other}`);
    expect((await errorOf(app.query("SELECT taskmaster.enqueue('send-email')"))).code).toBe('42501');
    await app.query('ROLLBACK');
  } finally {
    await app.query(`DROP OWNED BY ${granted}, ${other}; DROP ROLE ${granted}; DROP ROLE ${other}`);
  }
});

describe('with a coordinator and a worker running', () => {
  let cluster: Cluster;
  beforeAll(async () => {
    cluster = await startCluster({ databaseEnv: db.env, workers: 1 });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  test('a task enqueued from SQL runs as soon as the transaction commits', async () => {
    await app.query('BEGIN');
    const { rows: [{ id }] } = await app.query("SELECT taskmaster.enqueue_command('noop') AS id");
    await app.query('COMMIT');
    let status = '';
    await waitFor(async () => {
      status = (await db.pool.query('SELECT status FROM tasks WHERE id = $1', [id])).rows[0].status;
      return status === 'succeeded';
    }, 20_000, () => `the task to succeed (it is ${status})`);
    const { rows } = await db.pool.query('SELECT type FROM events WHERE task_id = $1 ORDER BY id', [id]);
    expect(rows.map((r) => r.type)).toEqual(['scheduled', 'assigned', 'started', 'completed']);
  });
});
