import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from '../../scripts/tool/core/http.js';
import { readWriteMix, runTraffic } from '../../scripts/tool/core/traffic.js';
import { sleep } from '../../scripts/tool/core/wait.js';
import { backup, restore } from '../../scripts/tool/local/backup.js';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';

let stack: Stack;
const dir = mkdtempSync(join(tmpdir(), 'wsi-backups-'));
const quiet = () => undefined;
/** The site over HTTPS, verified against the stack's local CA. */
let port: { port: number; ca: string };

interface Post {
  id: number;
  author: string;
  body: string;
  createdAt: string;
}

/** Every post, through the API, following the keyset pages to the end. */
async function allPosts(): Promise<Post[]> {
  const posts: Post[] = [];
  let before: number | null = null;
  for (let page = 0; page < 1_000; page++) {
    const query: string = before === null ? '' : `&before=${before}`;
    const answer = (await request(port, `/api/posts?limit=100${query}`)).json<{ posts: Post[]; next: number | null }>();
    posts.push(...answer.posts);
    if (answer.next === null) return posts;
    before = answer.next;
  }
  throw new Error('more than 1000 pages of posts');
}

const write = async (author: string, body: string) =>
  (await request(port, '/api/posts', { method: 'POST', body: { author, body } })).json<Post>();

/** The stack's project and environment, as the operations commands take them. */
const target = () => ({ project: stack.project, env: stack.env });

beforeAll(async () => {
  stack = await startStack({ project: `webstack-test-backup-${randomBytes(3).toString('hex')}` });
  port = stack.port;
});

afterAll(async () => {
  await stack?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('backup and restore', () => {
  let rows: Post[];

  it('restores every row identically after the database volume is destroyed', async () => {
    for (let i = 0; i < 30; i++) await write(`writer ${i % 3}`, `post ${i}: ünïcödé ✓ 𝄞 ${'x'.repeat(i * 60)}`);
    rows = await allPosts();
    expect(rows).toHaveLength(30);
    const { file: full } = await backup({ ...target(), dir, keep: 2, log: quiet });

    await stack.compose(['down', '--volumes']);
    await stack.compose(['up', '-d', '--wait']);
    port = await stack.site();
    expect(await allPosts()).toEqual([]);

    await restore({ ...target(), file: full, yes: true, log: quiet });
    expect(await allPosts()).toEqual(rows);
    // The restored table goes on from where it was: the next id follows the last one.
    expect((await write('after', 'restore')).id).toBe(rows[0]!.id + 1);
  });

  it('keeps only the newest backups of the project', async () => {
    const made = [];
    for (let i = 0; i < 3; i++) made.push((await backup({ ...target(), dir, keep: 2, log: quiet })).file);
    const kept = readdirSync(dir)
      .filter((name) => name.endsWith('.sql.gz'))
      .map((name) => join(dir, name))
      .sort();
    expect(kept).toEqual(made.slice(1));
  });

  it('takes a consistent backup under write load: it restores to exactly the rows committed at one moment', async () => {
    const acknowledged = new Map<number, Post>();
    const before = new Map((await allPosts()).map((post) => [post.id, post]));
    let taken: { file: string; startedAt: number; endedAt: number } | undefined;
    const during = (async () => {
      await sleep(1_000);
      const startedAt = Math.max(0, ...acknowledged.keys());
      const { file } = await backup({ ...target(), dir, keep: 10, log: quiet });
      taken = { file, startedAt, endedAt: 0 };
      await sleep(1_000);
    })();
    const load = await runTraffic({
      port,
      connections: 8,
      until: during,
      maxDurationMs: 60_000,
      mix: readWriteMix,
      onResponse: (_request, response) => {
        if (response.status === 201) acknowledged.set(response.json<Post>().id, response.json<Post>());
      },
    });
    await during;
    expect(load.failed).toBe(0);
    expect(taken).toBeDefined();

    await restore({ ...target(), file: taken!.file, yes: true, log: quiet });
    const restored = await allPosts();
    const restoredIds = new Set(restored.map((post) => post.id));
    // Every restored row is one that was written, byte for byte.
    for (const post of restored) expect(post).toEqual(before.get(post.id) ?? acknowledged.get(post.id));
    // Everything acknowledged before the dump began is in it; writes went on after it.
    for (const id of [...before.keys(), ...[...acknowledged.keys()].filter((id) => id <= taken!.startedAt)]) {
      expect(restoredIds.has(id), `post ${id}`).toBe(true);
    }
    expect(restored.length).toBeGreaterThan(before.size);
    expect(restored.length).toBeLessThan(before.size + acknowledged.size);
  });

  it('refuses a truncated, corrupt or incomplete backup and leaves the running database untouched', async () => {
    const { file: latest } = await backup({ ...target(), dir, keep: 10, log: quiet });
    const good = readFileSync(latest);
    const truncated = join(dir, 'truncated.sql.gz');
    writeFileSync(truncated, good.subarray(0, Math.floor(good.length / 2)));
    const corrupt = join(dir, 'corrupt.sql.gz');
    const flipped = Buffer.from(good);
    for (let i = 20; i < 40; i++) flipped[i] = flipped[i]! ^ 0xff;
    writeFileSync(corrupt, flipped);
    const incomplete = join(dir, 'incomplete.sql.gz');
    const sql = gunzipSync(good).toString('utf8');
    writeFileSync(incomplete, gzipSync(sql.slice(0, sql.lastIndexOf('-- Dump completed'))));
    const notADump = join(dir, 'not-a-dump.sql.gz');
    writeFileSync(notADump, gzipSync('DROP DATABASE webstack;\n-- Dump completed\n'));

    const sentinel = await write('sentinel', 'written after every backup in this directory');
    const live = await allPosts();
    await expect(restore({ ...target(), file: truncated, yes: true, log: quiet })).rejects.toThrow(
      /is not a usable backup: it is corrupt or truncated .*nothing was restored/,
    );
    await expect(restore({ ...target(), file: corrupt, yes: true, log: quiet })).rejects.toThrow(
      /is not a usable backup: it is corrupt or truncated/,
    );
    await expect(restore({ ...target(), file: incomplete, yes: true, log: quiet })).rejects.toThrow(
      /the dump is incomplete \(no "-- Dump completed" line/,
    );
    await expect(restore({ ...target(), file: notADump, yes: true, log: quiet })).rejects.toThrow(
      /does not start like a mysqldump file/,
    );
    await expect(restore({ ...target(), file: latest, log: quiet })).rejects.toThrow(
      /confirm interactively or pass --yes/,
    );
    await expect(restore({ ...target(), file: latest, confirm: async () => false, log: quiet })).rejects.toThrow(
      /cancelled; nothing was changed/,
    );
    expect(await allPosts()).toEqual(live);
    expect(live[0]).toEqual(sentinel);
  });
});
