/**
 * TLS to PostgreSQL: a real server with ssl=on and a certificate from a CA made for the test
 * (test/helpers/tls-postgres.ts), reached the two ways a service is configured, DATABASE_SSLMODE with
 * DATABASE_SSL_CA, and a DATABASE_URL carrying sslmode and sslrootcert.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { loadConfig, type DatabaseConfig } from '../src/config';
import { createPool, waitForDatabase, type Pool } from '../src/db/pool';
import { createLogger } from '../src/logger';
import { startTlsPostgres, type TlsPostgres } from '../../../test/helpers/tls-postgres';
import { configProblems } from '../../../test/helpers/config-problems';

const logger = createLogger('test', 'silent');

describe('TLS to the database', () => {
  let server: TlsPostgres;
  const pools: Pool[] = [];

  beforeAll(async () => {
    server = await startTlsPostgres();
  }, 120_000);

  afterAll(async () => {
    await Promise.all(pools.map((pool) => pool.end()));
    await server?.stop();
  });

  /** The database settings a service would load from this environment, pointed at the test server. */
  const settings = (env: Record<string, string>, host = '127.0.0.1'): DatabaseConfig =>
    loadConfig({ POSTGRES_HOST: host, POSTGRES_PORT: String(server.port), POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'postgres', ...env }).database;

  const pool = (config: DatabaseConfig): Pool => {
    const created = createPool(config, logger, 'tls-test');
    pools.push(created);
    return created;
  };

  /** What the server says about this session's connection. */
  const sessionTls = async (config: DatabaseConfig) => {
    const { rows } = await pool(config).query<{ ssl: boolean; version: string | null }>(
      'SELECT ssl, version FROM pg_stat_ssl WHERE pid = pg_backend_pid()',
    );
    return rows[0];
  };

  const refusal = async (config: DatabaseConfig): Promise<string> => {
    const error = await waitForDatabase(pool(config), config, logger, 0).then(() => undefined, (err: Error) => err);
    if (!error) throw new Error('the connection was accepted');
    return error.message;
  };

  it('connects encrypted with DATABASE_SSLMODE=verify-full and the CA in DATABASE_SSL_CA', async () => {
    const config = settings({ DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: server.caFile });
    expect(await sessionTls(config)).toEqual({ ssl: true, version: expect.stringMatching(/^TLSv1\.[23]$/) });
  });

  it('connects encrypted with a DATABASE_URL carrying sslmode=verify-full and sslrootcert', async () => {
    const url = `${server.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.caFile)}`;
    expect(await sessionTls(loadConfig({ DATABASE_URL: url }).database)).toMatchObject({ ssl: true });
  });

  it('takes DATABASE_SSL_CA alone as verify-full', async () => {
    const config = settings({ DATABASE_SSL_CA: server.caFile });
    expect(config.sslMode).toBe('verify-full');
    expect(await sessionTls(config)).toMatchObject({ ssl: true });
  });

  it('refuses a server whose certificate another CA signed, and says which CA it checked against', async () => {
    const message = await refusal(settings({ DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: server.wrongCaFile }));
    expect(message).toContain(`database unreachable at 127.0.0.1:${server.port}/postgres`);
    expect(message).toContain(`not signed by the CA in DATABASE_SSL_CA (${server.wrongCaFile})`);
  });

  it('refuses the wrong CA given in the URL too', async () => {
    const url = `${server.url}?sslmode=verify-full&sslrootcert=${encodeURIComponent(server.wrongCaFile)}`;
    expect(await refusal(loadConfig({ DATABASE_URL: url }).database)).toContain('TLS certificate is not signed by');
  });

  it('checks the host name under verify-full, and not under verify-ca', async () => {
    // The certificate names IP 127.0.0.1 only; "localhost" reaches the same server under another name.
    const byName = (mode: string) => settings({ DATABASE_SSLMODE: mode, DATABASE_SSL_CA: server.caFile }, 'localhost');
    expect(await refusal(byName('verify-full'))).toMatch(/localhost.*does not name the host connected to/s);
    expect(await sessionTls(byName('verify-ca'))).toMatchObject({ ssl: true });
  });

  it('encrypts without checking under require, and not at all under disable', async () => {
    expect(await sessionTls(settings({ DATABASE_SSLMODE: 'require' }))).toMatchObject({ ssl: true });
    expect(await sessionTls(settings({ DATABASE_SSLMODE: 'disable' }))).toMatchObject({ ssl: false });
  });

  it('stops at start-up, naming the file, when DATABASE_SSL_CA cannot be read', () => {
    const config = settings({ DATABASE_SSL_CA: '/nonexistent/ca.crt' });
    expect(() => createPool(config, logger, 'tls-test')).toThrow('DATABASE_SSL_CA=/nonexistent/ca.crt cannot be read');
  });

  it('migrates the database as the migration Job does, over verify-full', () => {
    // The compiled entry point (npm test builds first), with only environment variables, as in the chart's Job.
    const migrate = spawnSync(process.execPath, [join(__dirname, '..', '..', '..', 'dist', 'services', 'common', 'src', 'db', 'migrate-main.js')], {
      env: { PATH: process.env.PATH, POSTGRES_HOST: '127.0.0.1', POSTGRES_PORT: String(server.port), POSTGRES_USER: 'postgres', POSTGRES_PASSWORD: 'postgres', POSTGRES_DB: 'postgres', DATABASE_SSLMODE: 'verify-full', DATABASE_SSL_CA: server.caFile, LOG_LEVEL: 'info' },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(migrate.stderr).toBe('');
    expect(migrate.status).toBe(0);
    expect(migrate.stdout).toContain('migrations applied');
  });
});

describe('database TLS settings', () => {

  it('refuses an unknown mode, verify-ca without a CA, and a CA with TLS turned off', () => {
    expect(configProblems({ DATABASE_SSLMODE: 'prefer' })).toEqual(['DATABASE_SSLMODE="prefer" must be one of disable, require, verify-ca, verify-full']);
    expect(configProblems({ DATABASE_SSLMODE: 'verify-ca' })).toEqual(['DATABASE_SSLMODE=verify-ca needs DATABASE_SSL_CA']);
    expect(configProblems({ DATABASE_SSLMODE: 'disable', DATABASE_SSL_CA: '/ca.crt' })).toEqual(['DATABASE_SSL_CA is set but DATABASE_SSLMODE=disable turns TLS off']);
  });

  it('leaves TLS to DATABASE_URL when neither is set', () => {
    expect(loadConfig({}).database).toMatchObject({ sslMode: undefined, sslCaFile: undefined });
  });
});
