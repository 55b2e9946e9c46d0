/** Release names: pure functions, so they are tested without Docker. */

/** `repo[:tag]` split at the tag's colon (a registry port's colon is not one); tag defaults to latest. */
export function splitRef(ref: string): { repo: string; tag: string } {
  const at = ref.lastIndexOf(':');
  if (at <= ref.lastIndexOf('/')) return { repo: ref, tag: 'latest' };
  return { repo: ref.slice(0, at), tag: ref.slice(at + 1) };
}

/** The tag of a new release built from `tag` at `when`: `<tag>-r<UTC time to the second>`. */
export function releaseTag(tag: string, when: Date): string {
  return `${tag}-r${when
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;
}

/** Where the release that is not live yet is kept: `<tag>-previous`. */
export const previousTag = (tag: string) => `${tag}-previous`;
