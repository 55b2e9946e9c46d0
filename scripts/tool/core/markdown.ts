/**
 * Replaces what stands between `<!-- NAME:begin -->` and `<!-- NAME:end -->` in a Markdown
 * document (a docs page's generated section), keeping the markers. Throws when they are missing.
 */
export function replaceSection(document: string, name: string, body: string): string {
  const begin = `<!-- ${name}:begin -->`;
  const end = `<!-- ${name}:end -->`;
  const from = document.indexOf(begin);
  const to = document.indexOf(end, from);
  if (from < 0 || to < 0) throw new Error(`the document has no ${begin} … ${end} section`);
  return `${document.slice(0, from + begin.length)}\n${body.trim()}\n${document.slice(to)}`;
}
