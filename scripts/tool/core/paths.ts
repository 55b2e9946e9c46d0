import { fileURLToPath } from 'node:url';

/** The repository's root folder, with a trailing slash. */
export const REPO_ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const COMPOSE_FILE = `${REPO_ROOT}docker-compose.yml`;
/** The override that runs the app from a ready image (APP_IMAGE), relative to REPO_ROOT. */
export const APP_IMAGE_COMPOSE_FILE = 'docker-compose.app-image.yml';
