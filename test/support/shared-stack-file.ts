import { afterAll, inject } from 'vitest';
import { setPaused } from './shared-stack.js';

// Each shared-stack file (a setup file of that project): once the file is done, the shared
// stack rests paused until the next one's sharedStack() resumes it.
afterAll(async () => {
  await setPaused(inject('sharedStack').project, true);
});
