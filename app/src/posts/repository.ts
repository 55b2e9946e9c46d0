import type { Pool, ResultSetHeader, RowDataPacket } from 'mysql2/promise';

export interface Post {
  id: number;
  author: string;
  body: string;
  createdAt: string;
}

export interface NewPost {
  author: string;
  body: string;
}

// Constant statement texts, so mysql2 prepares each once per connection and reuses it.
const COLUMNS = 'id, author, body, created_at';
export const SELECT_PAGE = `SELECT ${COLUMNS} FROM posts WHERE id < ? ORDER BY id DESC LIMIT ?`;
const SELECT_ONE = `SELECT ${COLUMNS} FROM posts WHERE id = ?`;
const INSERT = 'INSERT INTO posts (author, body, created_at) VALUES (?, ?, ?)';

/** Upper bound for "before" when the client asks for the newest page. */
export const NEWEST = Number.MAX_SAFE_INTEGER;

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

export function postsRepository(db: Pool) {
  return {
    /** Up to `limit` posts with id < `before`, newest first (keyset pagination on the primary key). */
    async listBefore(before: number, limit: number): Promise<Post[]> {
      // LIMIT as a string: MySQL 8's binary protocol rejects a JS number there.
      const [rows] = await db.execute<PostRow[]>(SELECT_PAGE, [before, String(limit)]);
      return rows.map(toPost);
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

export type PostsRepository = ReturnType<typeof postsRepository>;
