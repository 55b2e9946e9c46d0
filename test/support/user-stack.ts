// A stack that a test brings up with the user's own commands (scripts/up in a clone of this
// checkout), isolated from every other: a compose project the next run's leftover clean-up
// knows, ports of its own on 127.0.0.1 (never the developer's stack, 80 or 443), the base
// images of this machine, and images under a tag of its own, so that what it builds never
// replaces the images the other tests run.
import { rm } from 'node:fs/promises';
import { compose } from '../../scripts/tool/core/compose.js';
import { docker } from '../../scripts/tool/core/docker.js';
import { BUILT_SERVICES, imagesOf } from '../../scripts/tool/core/env.js';
import { isolatedEnv, stackProjectName } from '../../scripts/tool/testing/stack.js';

export interface UserStack {
  /** The environment the user's commands run with. */
  env: NodeJS.ProcessEnv;
  /** Removes what the commands made: the project's containers, network and volumes, the images under its tag, and `folder` (the clone, its .env and CA file). */
  remove(folder: string | undefined): Promise<void>;
}

/** `name` tells its image tag from the other tests' (`<IMAGE_TAG>-<name>`). */
export function userStack(name: string): UserStack {
  const images = imagesOf(process.env);
  const tag = `${images.tag}-${name}`;
  const project = stackProjectName();
  return {
    env: {
      ...process.env,
      COMPOSE_PROJECT_NAME: project,
      HTTP_BIND: '127.0.0.1',
      HTTP_PORT: '0',
      HTTPS_PORT: '0',
      IMAGE_TAG: tag,
      MYSQL_IMAGE: images.mysql,
      NGINX_IMAGE: images.nginxBase,
      NODE_IMAGE: images.nodeBase,
    },
    async remove(folder) {
      try {
        await compose(project, ['down', '--volumes', '--remove-orphans', '--timeout', '0'], isolatedEnv(process.env));
      } finally {
        for (const service of BUILT_SERVICES)
          await docker
            .getImage(`webstack/${service}:${tag}`)
            .remove({ force: true })
            .catch(() => undefined);
        if (folder) await rm(folder, { recursive: true, force: true });
      }
    },
  };
}
