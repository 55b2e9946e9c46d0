// The yardstick for what the app itself costs: a minimal Fastify + mysql2 server answering
// GET /api/posts with the app's own statement and row mapping (its posts repository), the
// same pool size and a response schema (the app's Page), and nothing else: no logging,
// metrics, Server-Timing, request id or query validation. The bench runs it from the app's
// image, beside the app, with the app's environment; so it measures the sample app only.
import Fastify from 'fastify';
import mysql from 'mysql2/promise';
import { postsRepository } from '/srv/app/dist/posts/repository.js';
import { Page } from '/srv/app/dist/posts/schemas.js';

const env = process.env;
const pool = mysql.createPool({
  host: env.DB_HOST,
  port: Number(env.DB_PORT),
  user: env.DB_USER,
  password: env.DB_PASSWORD,
  database: env.DB_NAME,
  connectionLimit: Number(env.DB_POOL_SIZE ?? 10),
  charset: 'utf8mb4_unicode_ci',
  timezone: 'Z',
});
const posts = postsRepository(pool);
const app = Fastify({ logger: false });
app.get('/api/posts', { schema: { response: { 200: Page } } }, () => posts.page({ limit: 20 }));
await app.listen({ host: '127.0.0.1', port: Number(env.PORT) });
