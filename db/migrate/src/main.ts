// Process entry of the migrate service: one run, then exit with a code that says how it went.
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { EXIT, MigrateError, migrate } from './migrations.js';

const log = pino({ level: process.env.LOG_LEVEL ?? 'info', base: { service: 'migrate' } });

async function main(): Promise<number> {
  let config;
  try {
    config = loadConfig();
  } catch (err) {
    log.fatal({ err }, `configuration: ${(err as Error).message}`);
    return EXIT.usage;
  }
  log.level = config.LOG_LEVEL;
  try {
    const applied = await migrate({
      connection: {
        host: config.DB_HOST,
        port: config.DB_PORT,
        user: config.DB_USER,
        password: config.DB_PASSWORD,
        database: config.DB_NAME,
        charset: 'utf8mb4_unicode_ci',
        timezone: 'Z',
        connectTimeout: 10_000,
      },
      dir: config.MIGRATIONS_DIR,
      lockWaitSeconds: config.MIGRATE_LOCK_WAIT_SECONDS,
      connectWaitSeconds: config.DB_WAIT_SECONDS,
      log,
    });
    log.info({ applied }, applied.length > 0 ? `applied ${applied.length} migration(s)` : 'the schema is up to date');
    return EXIT.ok;
  } catch (err) {
    const code = err instanceof MigrateError ? err.exitCode : EXIT.refused;
    log.fatal({ err }, `migration run failed: ${(err as Error).message}`);
    return code;
  }
}

process.exitCode = await main();
