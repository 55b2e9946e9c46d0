// scripts/test builds the images once, before its lanes start, so that they share them.
import { buildTestImages } from './images.js';

process.env.IMAGE_TAG ??= 'test';
await buildTestImages();
