// scripts/test builds the images once, before its lanes start, so that they share them.
import setup from './global-setup.js';

process.env.IMAGE_TAG ??= 'test';
await setup();
