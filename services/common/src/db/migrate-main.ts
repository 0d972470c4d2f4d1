import { loadConfig } from '../config';
import { createLogger } from '../logger';
import { createPool, waitForDatabase } from './pool';
import { migrate } from './migrate';

// `npm run migrate` and the chart's migration Job.
async function main(): Promise<void> {
  const config = loadConfig();
  const logger = createLogger('migrate', config.logLevel);
  const pool = createPool(config.database, logger, 'taskmaster-migrate');
  try {
    await waitForDatabase(pool, config.database, logger);
    const { migrateGrantRole: role, migrateGrantRolePassword: password } = config.database;
    const applied = await migrate(pool, undefined, role === undefined ? {} : { grantTo: { name: role, password } });
    logger.info({ applied }, applied.length ? 'migrations applied' : 'database already up to date');
    if (role !== undefined) logger.info({ role }, 'granted the services their rights');
  } finally {
    await pool.end();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`migrate: ${err.message}\n`);
  process.exit(1);
});
