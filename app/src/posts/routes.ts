import type { FastifyPluginAsync } from 'fastify';
import { errorBody, errorResponses } from '../errors.js';
import { NEWEST, postsRepository, type NewPost } from './repository.js';
import { idParams, listQuery, newPost, page, post } from './schemas.js';

export const postsRoutes: FastifyPluginAsync = async (app) => {
  const posts = postsRepository(app.db);
  app.addSchema(post);

  app.get<{ Querystring: { limit: number; before?: number } }>(
    '/',
    { schema: { querystring: listQuery, response: { 200: page, ...errorResponses(400, 503) } } },
    async (request) => {
      const { limit, before = NEWEST } = request.query;
      // One extra row tells whether another page exists without a COUNT.
      const rows = await posts.listBefore(before, limit + 1);
      const more = rows.length > limit;
      const pageRows = more ? rows.slice(0, limit) : rows;
      return { posts: pageRows, next: more ? (pageRows.at(-1)?.id ?? null) : null };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/:id',
    { schema: { params: idParams, response: { 200: { $ref: 'post#' }, ...errorResponses(400, 404, 503) } } },
    async (request, reply) => {
      const found = await posts.findById(request.params.id);
      if (!found) return reply.code(404).send(errorBody(404, `no post with id ${request.params.id}`));
      return found;
    },
  );

  app.post<{ Body: NewPost }>(
    '/',
    { schema: { body: newPost, response: { 201: { $ref: 'post#' }, ...errorResponses(400, 413, 415, 503) } } },
    async (request, reply) => {
      const created = await posts.create(request.body);
      return reply.code(201).header('location', `/api/posts/${created.id}`).send(created);
    },
  );
};
