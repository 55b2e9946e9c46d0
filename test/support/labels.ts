import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

// What a test creates outside compose carries the run's labels: this checkout (the repo's
// folder) and the run (scripts/test sets WEBSTACK_TEST_RUN to "<its pid>-<start time>"; a
// test file run alone is its worker's run). scripts/test's clean-up removes only what carries
// them: its own run's, and earlier runs' of this checkout whose process is gone.
export const TEST_LABEL = {
  'org.webstack.test-repo': REPO_ROOT.replace(/\/$/, ''),
  'org.webstack.test-run': process.env.WEBSTACK_TEST_RUN ?? `${process.pid}-${Date.now()}`,
};
