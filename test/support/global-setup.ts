import { builtImages, imagesOf } from '../../scripts/tool/core/env.js';
import { buildStackImages } from '../../scripts/tool/testing/stack.js';

// Builds the stack's own images through docker-compose.yml (the one definition of how they
// are built) before any test file starts containers from them, unless scripts/test already
// did it once for all its lanes. Each test project lists it: it runs in this one process,
// so the first build marks the images built for the rest.
export default async function setup(): Promise<void> {
  if (process.env.TEST_IMAGES_BUILT === '1') return;
  const started = Date.now();
  process.stdout.write(`building ${builtImages(imagesOf(process.env)).join(', ')} from docker-compose.yml\n`);
  await buildStackImages(process.env, 'always');
  process.stdout.write(`images built in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
  process.env.TEST_IMAGES_BUILT = '1';
}
