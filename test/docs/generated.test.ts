import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PERFORMANCE_PAGE } from '../../scripts/tool/bench/main.js';
import { replaceSection } from '../../scripts/tool/core/markdown.js';
import { RELIABILITY_PAGE } from '../../scripts/tool/report/reliability.js';

const repo = resolve(import.meta.dirname, '../..');
const read = (file: string) => readFileSync(resolve(repo, file), 'utf8');

describe('the generated sections', () => {
  it.each([
    [PERFORMANCE_PAGE, 'bench'],
    [RELIABILITY_PAGE, 'reliability'],
  ])('%s holds the %s section its generator rewrites', (page, name) => {
    expect(page).toMatch(/^docs\/[a-z-]+\.md$/);
    expect(replaceSection(read(page), name, 'generated')).toContain(
      `<!-- ${name}:begin -->\ngenerated\n<!-- ${name}:end -->`,
    );
  });

  it('README.md has no section a tool writes', () => {
    expect(read('README.md')).not.toMatch(/<!-- [a-z-]+:(begin|end) -->/);
  });
});
