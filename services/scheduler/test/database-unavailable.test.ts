import { createServer, type Server, type Socket } from 'node:net';
import pg from 'pg';
import { asDatabaseUnavailable } from '../../common/src/errors';
import { createTestDatabase, type TestDatabase } from '../../../test/helpers/database';
import { freePort } from '../../../test/helpers/ports';

/*
 * asDatabaseUnavailable, the one place that decides which errors mean "the database is unavailable" (HTTP 503
 * database_unavailable), fed the errors node-postgres really raises: a refused connection, a server that
 * accepts and never answers, a backend terminated by the server, and, as the counter-examples, errors that
 * are the statement's fault.
 */

let db: TestDatabase;
let silent: Server | undefined;
const sockets: Socket[] = [];

beforeAll(async () => {
  db = await createTestDatabase();
});
afterAll(async () => {
  for (const socket of sockets) socket.destroy();
  await new Promise((resolve) => (silent ? silent.close(resolve) : resolve(undefined)));
  await db.drop();
});

async function errorOf(run: () => Promise<unknown>): Promise<unknown> {
  try {
    await run();
  } catch (err) {
    return err;
  }
  throw new Error('expected the call to fail');
}

test('a refused connection is unavailable, with a message that says so', async () => {
  const port = await freePort();
  const pool = new pg.Pool({ connectionString: `postgres://x:y@127.0.0.1:${port}/none`, connectionTimeoutMillis: 2000 });
  const err = await errorOf(() => pool.query('SELECT 1'));
  await pool.end();
  const unavailable = asDatabaseUnavailable(err);
  expect(unavailable?.code).toBe('database_unavailable');
  expect(unavailable?.message).toMatch(/^the database is unavailable \(ECONNREFUSED/);
});

test('a server that accepts and never answers hits the connection timeout, which is unavailable', async () => {
  silent = createServer((socket) => sockets.push(socket));
  await new Promise<void>((resolve) => silent!.listen(0, '127.0.0.1', resolve));
  const { port } = silent.address() as { port: number };
  const pool = new pg.Pool({ connectionString: `postgres://x:y@127.0.0.1:${port}/none`, connectionTimeoutMillis: 300 });
  const err = await errorOf(() => pool.query('SELECT 1'));
  await pool.end();
  expect(asDatabaseUnavailable(err)?.code).toBe('database_unavailable');
});

test('a backend the server terminates (57P01) is unavailable', async () => {
  const client = new pg.Client({ connectionString: db.url });
  client.on('error', () => undefined);
  await client.connect();
  const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
  const pending = errorOf(() => client.query('SELECT pg_sleep(30)'));
  await new Promise((resolve) => setTimeout(resolve, 200));
  await db.pool.query('SELECT pg_terminate_backend($1)', [rows[0].pid]);
  const err = await pending;
  expect((err as { code?: string }).code).toBe('57P01');
  expect(asDatabaseUnavailable(err)?.code).toBe('database_unavailable');
  // The same client, now broken, fails every later query the same way.
  expect(asDatabaseUnavailable(await errorOf(() => client.query('SELECT 1')))?.code).toBe('database_unavailable');
  await client.end().catch(() => undefined);
});

test('a statement timeout (57014) is unavailable; a syntax error, a constraint violation or a plain Error is not', async () => {
  const client = await db.pool.connect();
  const timeout = await errorOf(() => client.query("SET statement_timeout = '50ms'; SELECT pg_sleep(1)"));
  await client.query('RESET statement_timeout');
  client.release();
  expect((timeout as { code?: string }).code).toBe('57014');
  expect(asDatabaseUnavailable(timeout)?.code).toBe('database_unavailable');

  const syntax = await errorOf(() => db.pool.query('SELEC 1'));
  const constraint = await errorOf(() => db.pool.query("INSERT INTO events (id, type, message) VALUES (1, 'scale', 'a'), (1, 'scale', 'b')"));
  expect((constraint as { code?: string }).code).toBe('23505');
  for (const err of [syntax, constraint, new Error('something else'), 'not an error']) {
    expect(asDatabaseUnavailable(err)).toBeUndefined();
  }
});
