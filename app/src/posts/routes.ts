import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox';
import { errorBody, errorResponses } from '../errors.js';
import { postsRepository } from './repository.js';
import { NewPost, Page, PageQuery, Post, PostParams } from './schemas.js';

export const postsRoutes: FastifyPluginAsyncTypebox = async (app) => {
  const posts = postsRepository(app.db);

  app.get(
    '/',
    { schema: { querystring: PageQuery, response: { 200: Page, ...errorResponses(400, 503) } } },
    async (request) => posts.page(request.query),
  );

  app.get(
    '/:id',
    { schema: { params: PostParams, response: { 200: Post, ...errorResponses(400, 404, 503) } } },
    async (request, reply) => {
      const found = await posts.findById(request.params.id);
      if (!found) return reply.code(404).send(errorBody(404, `no post with id ${request.params.id}`));
      return found;
    },
  );

  app.post(
    '/',
    { schema: { body: NewPost, response: { 201: Post, ...errorResponses(400, 413, 415, 503) } } },
    async (request, reply) => {
      const created = await posts.create(request.body);
      return reply.code(201).header('location', `/api/posts/${created.id}`).send(created);
    },
  );
};
