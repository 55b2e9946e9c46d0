// docs/make-it-yours.md followed as a newcomer would: the shell blocks of its first section,
// run as they stand, in a throwaway folder, and the page they end on must be the starter's.
// The clone is of this checkout's last commit (commit a change first to test it), so a file
// the steps need but git does not have fails here as it would for the reader.
import { execFile } from 'node:child_process';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { Lexer, type Tokens } from 'marked';
import { afterAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { userStack } from '../support/user-stack.js';

const run = promisify(execFile);
const PAGE = 'docs/make-it-yours.md';
const SECTION = 'From a fresh clone to https://localhost';
const URL_PLACEHOLDER = "<the repository's URL>";

/** The `sh` blocks of the page's section, in order. */
function steps(markdown: string): string[] {
  const tokens = new Lexer({ gfm: true }).lex(markdown);
  const isHeading = (token: (typeof tokens)[number]): token is Tokens.Heading => token.type === 'heading';
  const start = tokens.findIndex((token) => isHeading(token) && token.text === SECTION);
  const end = tokens.findIndex((token, i) => i > start && isHeading(token) && token.depth <= 2);
  if (start < 0) throw new Error(`${PAGE} has no section "${SECTION}"`);
  return tokens
    .slice(start, end < 0 ? undefined : end)
    .filter((token): token is Tokens.Code => token.type === 'code' && token.lang === 'sh')
    .map((token) => token.text);
}

// Its own tag (the app built here never replaces the sample's image the other tests run),
// project and ports: the steps never touch the developer's stack.
const stack = userStack('make-it-yours');
const { env } = stack;
let root: string | undefined;

afterAll(() => stack.remove(root));

describe(PAGE, () => {
  it("takes a fresh clone to the user's own page at https://localhost, through nginx", async () => {
    const [clone, ...rest] = steps(await readFile(join(REPO_ROOT, PAGE), 'utf8'));
    expect(clone).toContain(URL_PLACEHOLDER);
    root = await mkdtemp(join(tmpdir(), 'make-it-yours-'));
    // Each block runs where the one before it left off (the clone's cd): bash writes that here.
    const where = join(root, 'cwd');
    let cwd = root;
    let output = '';
    let last = '';
    for (const step of [clone!.replace(URL_PLACEHOLDER, `'${REPO_ROOT}'`), ...rest]) {
      // The address scripts/up printed, where the page says https://localhost/: its port is
      // free here, and 443 may be the developer's own stack.
      const site = /^The site:\s+(https:\/\/localhost\S*)/m.exec(output)?.[1];
      if (step.includes('https://localhost/') && !site) throw new Error(`no "The site:" line before:\n${step}`);
      const script = site ? step.replaceAll('https://localhost/', site) : step;
      const { stdout } = await run('bash', ['-euo', 'pipefail', '-c', `${script}\npwd >"$0"`, where], {
        cwd,
        env,
        maxBuffer: 64 * 1024 * 1024,
      }).catch((err: { stderr?: string }) => {
        throw new Error(`step failed:\n${script}\n${err.stderr?.slice(-4000) ?? ''}`, { cause: err });
      });
      output += stdout;
      last = stdout;
      cwd = (await readFile(where, 'utf8')).trim();
    }
    // Not the sample's front page: the starter's, from the folder APP_DIR names.
    expect(last).toContain('<h1>My app</h1>');
  });
});
