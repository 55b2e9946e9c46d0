import { NEWEST } from './repository.js';

export const post = {
  $id: 'post',
  type: 'object',
  required: ['id', 'author', 'body', 'createdAt'],
  properties: {
    id: { type: 'integer' },
    author: { type: 'string' },
    body: { type: 'string' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

export const newPost = {
  type: 'object',
  required: ['author', 'body'],
  additionalProperties: false,
  properties: {
    author: { type: 'string', minLength: 1, maxLength: 64, format: 'unicode-text' },
    body: { type: 'string', minLength: 1, maxLength: 2000, format: 'unicode-text' },
  },
} as const;

export const listQuery = {
  type: 'object',
  additionalProperties: false,
  properties: {
    limit: { type: 'integer', minimum: 1, maximum: 100, default: 20 },
    before: { type: 'integer', minimum: 1, maximum: NEWEST },
  },
} as const;

export const idParams = {
  type: 'object',
  required: ['id'],
  properties: {
    id: { type: 'integer', minimum: 1, maximum: NEWEST },
  },
} as const;

export const page = {
  type: 'object',
  required: ['posts', 'next'],
  properties: {
    posts: { type: 'array', items: { $ref: 'post#' } },
    // The `before` to pass for the next page; null on the last page.
    next: { type: ['integer', 'null'] },
  },
} as const;
