import { buildTestImages } from './images.js';

// Builds the stack's images before any test file starts containers from them, unless
// scripts/test already did for all its lanes.
export default async function setup(): Promise<void> {
  if (process.env.TEST_IMAGES_BUILT !== '1') await buildTestImages();
}
