import { afterAll, describe, expect, it } from 'vitest';
import { compose } from '../../scripts/tool/core/compose.js';
import { docker } from '../../scripts/tool/core/docker.js';
import { BUILT_SERVICES, imagesOf } from '../../scripts/tool/core/env.js';
import { request } from '../../scripts/tool/core/http.js';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';
import { isolatedEnv, startStack, type Stack } from '../../scripts/tool/testing/stack.js';

// The app setting at the level of docker-compose.yml: APP_DIR builds another folder's app
// (the consumer project's tiny one), APP_IMAGE runs a ready image without building. The
// shell's refusals of a wrong choice are tested with scripts/up (test/scripts/env-file).
const images = imagesOf(process.env);
// Its own tag: the stack built here never replaces the images the other tests run.
const tag = `${images.tag}-app-choice`;
const readyImage = `webstack-test/hello-app:${images.tag}`;
const made = BUILT_SERVICES.map((name) => `webstack/${name}:${tag}`).concat(readyImage);
let stack: Stack | undefined;

const imageId = (name: string) =>
  docker
    .getImage(name)
    .inspect()
    .then((info) => info.Id)
    .catch(() => undefined);

/** GET /api/hello through nginx, as a browser would; the app echoes the request id nginx gave it. */
async function hello(up: Stack) {
  const response = await request(up.port, '/api/hello');
  const body = response.json<{ message: string; requestId: string }>();
  return { status: response.status, body, sameId: body.requestId === response.headers['x-request-id'] };
}

afterAll(async () => {
  await stack?.stop();
  for (const name of made)
    await docker
      .getImage(name)
      .remove({ force: true })
      .catch(() => undefined);
});

describe('the app setting (APP_DIR, APP_IMAGE) in docker-compose.yml', () => {
  it('APP_DIR: builds the app of another folder and serves it through nginx, every service healthy', async () => {
    const sample = await imageId(images.app);
    const env = { APP_DIR: 'test/consumer/hello-app', IMAGE_TAG: tag };
    await compose(`webstack-test-build-${tag}`, ['build', 'app'], isolatedEnv(process.env, env));
    // The other services' images as the global setup built them, under this tag.
    for (const name of BUILT_SERVICES.filter((service) => service !== 'app'))
      await docker.getImage(`webstack/${name}:${images.tag}`).tag({ repo: `webstack/${name}`, tag });
    stack = await startStack({ env });
    expect(await hello(stack)).toMatchObject({
      status: 200,
      body: { message: 'hello from the consumer project' },
      sameId: true,
    });
    // Not the sample: its routes are gone, and its image (the other tests') is untouched.
    expect((await request(stack.port, '/api/posts')).status).toBe(404);
    expect(await imageId(images.app)).toBe(sample);
    const app = await (await stack.container('app')).inspect();
    expect(app.Config.Image).toBe(`webstack/app:${tag}`);
    expect(app.State.Health?.Status).toBe('healthy');
    expect(await (await stack.container('monitor')).inspect().then((m) => m.State.Health?.Status)).toBe('healthy');
    await stack.stop();
    stack = undefined;
  });

  it('APP_IMAGE: runs a ready image as it is, with nothing to build', async () => {
    // Any image name will do: the one just built, under a name of its own.
    const built = await docker.getImage(`webstack/app:${tag}`).inspect();
    await docker.getImage(built.Id).tag({ repo: readyImage.split(':')[0]!, tag: images.tag });
    stack = await startStack({
      env: { APP_IMAGE: readyImage, APP_MIGRATIONS: `${REPO_ROOT}test/consumer/hello-app/migrations` },
    });
    const config = JSON.parse(await stack.compose(['config', '--format', 'json'])) as {
      services: Record<string, { build?: unknown; image: string }>;
    };
    expect(config.services.app).toMatchObject({ image: readyImage });
    expect(config.services.app?.build).toBeUndefined();
    expect(config.services.nginx?.build).toBeDefined();
    expect(await hello(stack)).toMatchObject({ status: 200, body: { message: 'hello from the consumer project' } });
    expect((await (await stack.container('app')).inspect()).Image).toBe(built.Id);
  });
});
