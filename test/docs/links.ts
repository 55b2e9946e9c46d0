import { existsSync, readFileSync, statSync } from 'node:fs';
import { dirname, extname, relative, resolve } from 'node:path';
import GithubSlugger from 'github-slugger';
import { Lexer, type Token, type Tokens } from 'marked';

export interface BrokenLink {
  file: string;
  href: string;
  problem: string;
}

// What a heading renders to, without its markup: GitHub slugs the rendered text.
function plainText(tokens: Token[] | undefined): string {
  return (tokens ?? [])
    .map((token) => ('tokens' in token && token.tokens ? plainText(token.tokens) : 'text' in token ? token.text : ''))
    .join('');
}

function tokensOf(path: string): Token[] {
  return new Lexer({ gfm: true }).lex(readFileSync(path, 'utf8'));
}

function walk(tokens: Token[], visit: (token: Token) => void): void {
  for (const token of tokens) {
    visit(token);
    if ('tokens' in token && token.tokens) walk(token.tokens, visit);
    if (token.type === 'list') for (const item of (token as Tokens.List).items) walk(item.tokens, visit);
    if (token.type === 'table') {
      const table = token as Tokens.Table;
      for (const cell of [...table.header, ...table.rows.flat()]) walk(cell.tokens, visit);
    }
  }
}

/** The anchors GitHub gives a markdown file's headings (duplicates get -1, -2, … as there). */
export function anchorsOf(path: string): Set<string> {
  const slugger = new GithubSlugger();
  const anchors = new Set<string>();
  walk(tokensOf(path), (token) => {
    if (token.type === 'heading') anchors.add(slugger.slug(plainText((token as Tokens.Heading).tokens)));
  });
  return anchors;
}

/** Every link and image target written in a markdown file, as written. */
export function linksOf(path: string): string[] {
  const hrefs: string[] = [];
  walk(tokensOf(path), (token) => {
    if (token.type === 'link' || token.type === 'image') hrefs.push((token as Tokens.Link).href);
  });
  return hrefs;
}

/**
 * The relative links and #anchors in `files` (paths under `root`) that lead nowhere: a file
 * that does not exist, or an anchor that is not one of the target file's heading slugs.
 * Links with a scheme (https:, mailto:) are left alone.
 */
export function brokenLinks(root: string, files: string[]): BrokenLink[] {
  const broken: BrokenLink[] = [];
  const anchorCache = new Map<string, Set<string>>();
  for (const file of files) {
    const source = resolve(root, file);
    for (const href of linksOf(source)) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(href) || href.startsWith('//')) continue;
      const hashAt = href.indexOf('#');
      const pathPart = decodeURIComponent(hashAt < 0 ? href : href.slice(0, hashAt));
      const anchor = hashAt < 0 ? undefined : decodeURIComponent(href.slice(hashAt + 1));
      const target = pathPart === '' ? source : resolve(dirname(source), pathPart);
      const problem = (p: string) => broken.push({ file, href, problem: p });
      if (!existsSync(target)) {
        problem(`${relative(root, target)} does not exist`);
        continue;
      }
      if (anchor === undefined) continue;
      if (statSync(target).isDirectory() || extname(target) !== '.md') {
        problem(`${relative(root, target)} is not a markdown file, so it has no #${anchor}`);
        continue;
      }
      const anchors = anchorCache.get(target) ?? anchorsOf(target);
      anchorCache.set(target, anchors);
      if (!anchors.has(anchor)) problem(`${relative(root, target)} has no heading whose anchor is #${anchor}`);
    }
  }
  return broken;
}
