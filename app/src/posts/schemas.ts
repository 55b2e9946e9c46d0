import { Type, type Static } from 'typebox';

/** Upper bound for "before" when the client asks for the newest page. */
export const NEWEST = Number.MAX_SAFE_INTEGER;

export const Post = Type.Object({
  id: Type.Integer(),
  author: Type.String(),
  body: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
});
export type Post = Static<typeof Post>;

export const NewPost = Type.Object(
  {
    author: Type.String({ minLength: 1, maxLength: 64, format: 'unicode-text' }),
    body: Type.String({ minLength: 1, maxLength: 2000, format: 'unicode-text' }),
  },
  { additionalProperties: false },
);
export type NewPost = Static<typeof NewPost>;

export const PageQuery = Type.Object(
  {
    // Required yet optional on the wire: Ajv fills in the default before it checks.
    limit: Type.Integer({ minimum: 1, maximum: 100, default: 20 }),
    before: Type.Optional(Type.Integer({ minimum: 1, maximum: NEWEST })),
  },
  { additionalProperties: false },
);
export type PageQuery = Static<typeof PageQuery>;

export const PostParams = Type.Object({
  id: Type.Integer({ minimum: 1, maximum: NEWEST }),
});

export const Page = Type.Object({
  posts: Type.Array(Post),
  // The `before` to pass for the next page; null on the last page.
  next: Type.Union([Type.Integer(), Type.Null()]),
});
export type Page = Static<typeof Page>;
