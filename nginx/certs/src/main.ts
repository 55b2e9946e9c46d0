// Process entry of the certs service.
import { pino } from 'pino';
import { loadConfig } from './config.js';
import { CertManager } from './manager.js';

const config = loadConfig();
const log = pino({ level: config.LOG_LEVEL, base: { service: 'certs' } });
// No work here needs finishing on stop: a half-done order is simply placed again later.
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => process.exit(0));
await new CertManager(config, log).run();
