import { setTimeout as sleep } from 'node:timers/promises';
import closeWithGrace from 'close-with-grace';
import { buildApp } from './app.js';
import { loadConfig, type Config } from './config.js';

function configOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    process.stderr.write(`invalid configuration: ${(err as Error).message}\n`);
    process.exit(1);
  }
}

const config = configOrExit();
const app = await buildApp(config);

// SIGTERM/SIGINT: keep serving for SHUTDOWN_DELAY_MS (while the proxy stops sending new
// requests), each answer closing its connection, then stop accepting, let in-flight
// requests finish, close the pool.
closeWithGrace(
  { delay: config.SHUTDOWN_DELAY_MS + config.SHUTDOWN_GRACE_MS, logger: app.log },
  async ({ signal, err }) => {
    app.drain();
    if (err) app.log.error({ err }, 'shutting down after an error');
    else {
      app.log.info({ signal, delayMs: config.SHUTDOWN_DELAY_MS }, 'shutting down');
      await sleep(config.SHUTDOWN_DELAY_MS);
    }
    await app.close();
  },
);

await app.listen({ host: config.HOST, port: config.PORT });
