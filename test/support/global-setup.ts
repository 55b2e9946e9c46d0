import { imagesOf } from '../../scripts/tool/core/env.js';
import { buildStackImages } from '../../scripts/tool/testing/stack.js';

// Builds the stack's own images once, through docker-compose.yml (the one definition of
// how they are built), before any test file starts containers from them.
export default async function setup(): Promise<void> {
  const started = Date.now();
  const images = imagesOf(process.env);
  process.stdout.write(`building ${images.app}, ${images.nginx} and ${images.certs} from docker-compose.yml\n`);
  await buildStackImages(process.env, 'always');
  process.stdout.write(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
