import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';
import { NEWEST, type NewPost, type Page, type PageQuery, type Post } from './schemas.js';

// Constant statement texts, so mysql2 prepares each once per connection and reuses it.
const COLUMNS = 'id, author, body, created_at';
const SELECT_PAGE = `SELECT ${COLUMNS} FROM posts WHERE id < ? ORDER BY id DESC LIMIT ?`;
const SELECT_ONE = `SELECT ${COLUMNS} FROM posts WHERE id = ?`;
const INSERT = 'INSERT INTO posts (author, body, created_at) VALUES (?, ?, ?)';

interface PostRow extends RowDataPacket {
  id: number;
  author: string;
  body: string;
  created_at: Date;
}

const toPost = (row: PostRow): Post => ({
  id: Number(row.id),
  author: row.author,
  body: row.body,
  createdAt: row.created_at.toISOString(),
});

/** The statements of the posts table; `db` is a pool, or one of its connections. */
export function postsRepository(db: Pick<Pool, 'execute'>) {
  return {
    /** Up to `limit` posts with id < `before`, newest first (keyset pagination on the primary key). */
    async page({ before = NEWEST, limit }: PageQuery): Promise<Page> {
      // One extra row tells whether another page exists without a COUNT.
      // LIMIT as a string: MySQL 8's binary protocol rejects a JS number there.
      const [rows] = await db.execute<PostRow[]>(SELECT_PAGE, [before, String(limit + 1)]);
      const posts = rows.slice(0, limit).map(toPost);
      return { posts, next: rows.length > limit ? (posts.at(-1)?.id ?? null) : null };
    },

    async findById(id: number): Promise<Post | undefined> {
      const [rows] = await db.execute<PostRow[]>(SELECT_ONE, [id]);
      return rows[0] && toPost(rows[0]);
    },

    async create(post: NewPost): Promise<Post> {
      // Millisecond precision matches DATETIME(3), so what we return is what is stored.
      const createdAt = new Date();
      const [result] = await db.execute<ResultSetHeader>(INSERT, [post.author, post.body, createdAt]);
      return { id: result.insertId, author: post.author, body: post.body, createdAt: createdAt.toISOString() };
    },
  };
}
