import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { anchorsOf, brokenLinks } from './links.js';

const repo = resolve(import.meta.dirname, '../..');

function docsOf(root: string): string[] {
  const docs = existsSync(join(root, 'docs')) ? readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')) : [];
  return ['README.md', ...docs.sort().map((f) => `docs/${f}`)];
}

describe('the check itself, on a small fixture', () => {
  const dir = mkdtempSync(join(tmpdir(), 'webstack-links-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'docs'));
  writeFileSync(
    join(dir, 'docs', 'page.md'),
    [
      '# A page',
      '## Trusting the local CA',
      '## `scripts/vps`: deploy, rollback',
      '## Notes',
      '## Notes',
      '```',
      '## not a heading (in a fence)',
      '```',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'code.ts'), '');

  it("gives headings GitHub's anchors", () => {
    expect([...anchorsOf(join(dir, 'docs', 'page.md'))]).toEqual([
      'a-page',
      'trusting-the-local-ca',
      'scriptsvps-deploy-rollback',
      'notes',
      'notes-1',
    ]);
  });

  it('passes links that resolve and fails each kind that does not', () => {
    writeFileSync(
      join(dir, 'README.md'),
      [
        '# Front',
        '[ok](docs/page.md) [ok](docs/page.md#trusting-the-local-ca) [ok](docs/page.md#notes-1) [ok](#front)',
        '[ok](code.ts) [ok](https://example.org/missing) ![ok](docs/) `[code](missing.md)`',
        '- [missing file](docs/gone.md)',
        '| a |',
        '| - |',
        '| [missing anchor](docs/page.md#trusting-the-ca) |',
        '[missing local anchor](#back) [anchor into code](code.ts#x) [fenced heading](docs/page.md#not-a-heading-in-a-fence)',
      ].join('\n'),
    );
    expect(brokenLinks(dir, ['README.md'])).toEqual([
      { file: 'README.md', href: 'docs/gone.md', problem: 'docs/gone.md does not exist' },
      {
        file: 'README.md',
        href: 'docs/page.md#trusting-the-ca',
        problem: 'docs/page.md has no heading whose anchor is #trusting-the-ca',
      },
      { file: 'README.md', href: '#back', problem: 'README.md has no heading whose anchor is #back' },
      { file: 'README.md', href: 'code.ts#x', problem: 'code.ts is not a markdown file, so it has no #x' },
      {
        file: 'README.md',
        href: 'docs/page.md#not-a-heading-in-a-fence',
        problem: 'docs/page.md has no heading whose anchor is #not-a-heading-in-a-fence',
      },
    ]);
  });
});

describe("the project's docs", () => {
  it('README.md and every page in docs/: every relative link and #anchor resolves', () => {
    expect(brokenLinks(repo, docsOf(repo))).toEqual([]);
  });
});
