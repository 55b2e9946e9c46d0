import { compose } from '../../scripts/tool/core/compose.js';
import { imagesOf } from '../../scripts/tool/core/env.js';
import { isolatedEnv } from '../../scripts/tool/testing/stack.js';

// Builds the stack's own images through docker-compose.yml, the one definition of how
// they are built.
export async function buildTestImages(): Promise<void> {
  const started = Date.now();
  const images = imagesOf(process.env);
  process.stdout.write(`building ${images.app}, ${images.nginx} and ${images.certs} from docker-compose.yml\n`);
  await compose(`webstack-test-build-${images.tag}`, ['build', 'app', 'nginx', 'certs'], isolatedEnv(process.env));
  process.stdout.write(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
