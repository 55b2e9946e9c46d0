import { imagesOf } from '../../scripts/tool/core/env.js';
import { buildStackImages } from '../../scripts/tool/testing/stack.js';

// Builds the stack's own images through docker-compose.yml (the one definition of how they
// are built) before any test file starts containers from them, unless scripts/test already
// did it once for all its lanes.
export default async function setup(): Promise<void> {
  if (process.env.TEST_IMAGES_BUILT === '1') return;
  const started = Date.now();
  const images = imagesOf(process.env);
  process.stdout.write(
    `building ${images.app}, ${images.nginx}, ${images.certs} and ${images.monitor} from docker-compose.yml\n`,
  );
  await buildStackImages(process.env, 'always');
  process.stdout.write(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
}
