import { createServer, connect, type Server, type Socket } from 'node:net';
import { loadConfig } from '../../services/common/src/config';
import { migrate } from '../../services/common/src/db/migrate';
import { createPool, type Pool } from '../../services/common/src/db/pool';
import { createLogger } from '../../services/common/src/logger';
import { createTestDatabase, type TestDatabase } from '../helpers/database';

/*
 * A database connection that goes silent (a half-open TCP connection: the server's host vanished, a NAT entry
 * was dropped) must fail the query within the pool's timeouts, not hang the dispatch loop or the recorder.
 * The database sits behind a TCP proxy that can stop forwarding without closing anything.
 */

let db: TestDatabase;
let proxy: FreezingProxy;
let pool: Pool | undefined;

beforeAll(async () => {
  db = await createTestDatabase();
  proxy = await FreezingProxy.start(db.config.host, db.config.port);
});
afterAll(async () => {
  proxy.frozen = false;
  await pool?.end().catch(() => undefined);
  await proxy.close();
  await db.drop();
});

/** Forwards TCP to the database until `frozen`; then it reads and drops everything, and closes nothing. */
class FreezingProxy {
  frozen = false;
  private readonly sockets = new Set<Socket>();

  private constructor(private readonly server: Server, readonly port: number) {}

  static async start(host: string, port: number): Promise<FreezingProxy> {
    let self: FreezingProxy | undefined;
    const server = createServer((client) => {
      const upstream = connect(port, host);
      for (const [from, to] of [[client, upstream], [upstream, client]] as const) {
        self!.sockets.add(from);
        from.on('data', (chunk) => {
          if (!self!.frozen) to.write(chunk);
        });
        from.on('error', () => to.destroy());
        from.on('close', () => to.destroy());
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    self = new FreezingProxy(server, (server.address() as { port: number }).port);
    return self;
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

/** The query's error, or 'hung' if it neither answered nor failed within `guardMs` (far above the timeouts). */
async function outcome(query: Promise<unknown>, guardMs: number): Promise<Error | 'answered' | 'hung'> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<'hung'>((resolve) => { timer = setTimeout(() => resolve('hung'), guardMs); });
  try {
    return await Promise.race([query.then(() => 'answered' as const, (err: Error) => err), guard]);
  } finally {
    clearTimeout(timer);
  }
}

test('a query on a connection that went silent fails within the query timeout; the pool then recovers', async () => {
  const url = new URL(db.url);
  url.host = `127.0.0.1:${proxy.port}`;
  const logged: string[] = [];
  pool = createPool(
    { ...db.config, connectionString: url.toString(), poolSize: 1, statementTimeoutMs: 500, queryTimeoutMs: 1500, keepAliveIdleMs: 1000 },
    createLogger('test', 'warn', { write: (line: string) => logged.push(line) }),
    'timeout-test',
  );
  expect(await outcome(pool.query('SELECT 1'), 10_000)).toBe('answered');

  // The server cancels a statement that runs past statement_timeout; the connection stays usable.
  const slow = await outcome(pool.query('SELECT pg_sleep(5)'), 10_000);
  expect(slow).toBeInstanceOf(Error);
  expect((slow as Error & { code?: string }).code).toBe('57014');

  // The pool dropped the connection that failed; the query under test runs on an open one, not a new one.
  expect(await outcome(pool.query('SELECT 1'), 10_000)).toBe('answered');
  proxy.frozen = true;
  const silent = await outcome(pool.query('SELECT 1'), 15_000);
  expect(silent).toBeInstanceOf(Error);
  expect((silent as Error).message).toMatch(/connection terminated/i);
  expect(logged.join('')).toContain('no answer from the database within DB_QUERY_TIMEOUT');

  // The silent connection was dropped: the next query gets a new one once the network is back.
  proxy.frozen = false;
  expect(await outcome(pool.query('SELECT 1'), 10_000)).toBe('answered');
});

test('a transaction on a connection that went silent fails within the query timeout, and nothing crashes', async () => {
  const url = new URL(db.url);
  url.host = `127.0.0.1:${proxy.port}`;
  const txPool = createPool(
    { ...db.config, connectionString: url.toString(), poolSize: 1, statementTimeoutMs: 500, queryTimeoutMs: 1500, keepAliveIdleMs: 1000 },
    createLogger('test', 'silent'),
    'timeout-test-tx',
  );
  try {
    // A client checked out by pool.connect() has no 'error' listener: closing it must not emit one.
    const client = await txPool.connect();
    await client.query('BEGIN');
    proxy.frozen = true;
    const silent = await outcome(client.query('SELECT 1'), 15_000);
    client.release();
    expect(silent).toBeInstanceOf(Error);
    proxy.frozen = false;
    expect(await outcome(txPool.query('SELECT 1'), 10_000)).toBe('answered');
  } finally {
    proxy.frozen = false;
    await txPool.end();
  }
});

test('a migration may take longer than the query timeout', async () => {
  const direct = createPool(
    { ...db.config, connectionString: db.url, poolSize: 2, statementTimeoutMs: 500, queryTimeoutMs: 1000, keepAliveIdleMs: 1000 },
    createLogger('test', 'silent'),
    'timeout-test-migrate',
  );
  try {
    expect(await migrate(direct, [{ version: '9999_slow', sql: 'SELECT pg_sleep(2)' }])).toEqual(['9999_slow']);
    // The exemption ended with the migration: the same pool's queries are bounded again.
    const slow = await outcome(direct.query('SELECT pg_sleep(2)'), 10_000);
    expect(slow).toBeInstanceOf(Error);
  } finally {
    await direct.end();
  }
});

test('the timeouts are settings with defaults; the client waits longer than the server', () => {
  expect(loadConfig({}).database).toMatchObject({ statementTimeoutMs: 30_000, queryTimeoutMs: 35_000, keepAliveIdleMs: 10_000 });
  expect(loadConfig({ DB_STATEMENT_TIMEOUT: '0', DB_QUERY_TIMEOUT: '2s' }).database).toMatchObject({ statementTimeoutMs: 0, queryTimeoutMs: 2000 });
  expect(() => loadConfig({ DB_STATEMENT_TIMEOUT: '10s', DB_QUERY_TIMEOUT: '5s' })).toThrow(/DB_QUERY_TIMEOUT .* must be longer than DB_STATEMENT_TIMEOUT/);
});
