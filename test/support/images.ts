/**
 * Images the tests run. The base images come from the environment (scripts/test resolves
 * them: official, or the local stand-ins); the stack's own images are built by the global
 * setup from docker-compose.yml under the "test" tag.
 */
export const IMAGE_TAG = process.env.IMAGE_TAG ?? 'test';

export const images = {
  mysql: process.env.MYSQL_IMAGE ?? 'mysql:8.4',
  nginxBase: process.env.NGINX_IMAGE ?? 'nginx:1.28',
  nodeBase: process.env.NODE_IMAGE ?? 'node:24-bookworm-slim',
  app: `webstack/app:${IMAGE_TAG}`,
  nginx: `webstack/nginx:${IMAGE_TAG}`,
  certs: `webstack/certs:${IMAGE_TAG}`,
};
