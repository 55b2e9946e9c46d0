// Healthy once a certificate is in place for nginx to serve.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.CERTS_DIR ?? '/certs';
process.exit(
  existsSync(join(dir, 'current', 'fullchain.pem')) && existsSync(join(dir, 'current', 'privkey.pem')) ? 0 : 1,
);
