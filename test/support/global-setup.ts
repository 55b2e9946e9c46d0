import { compose, composeEnv } from './compose.js';
import { IMAGE_TAG, images } from './images.js';

// Builds the stack's own images once, through docker-compose.yml (the one definition of
// how they are built), before any test file starts containers from them.
export default async function setup(): Promise<void> {
  const started = Date.now();
  process.stdout.write(`building ${images.app}, ${images.nginx} and ${images.certs} from docker-compose.yml\n`);
  await compose(`webstack-test-build-${IMAGE_TAG}`, ['build', 'app', 'nginx', 'certs'], composeEnv());
  process.stdout.write(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
