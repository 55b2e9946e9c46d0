import type { FastifyInstance } from 'fastify';
import { buildApp } from '../../app/src/app.js';
import { loadConfig } from '../../app/src/config.js';
import { migrateDatabase, startDatabase, type TestDatabase } from './database.js';

export interface TestApp {
  /** Built in this process, ready for inject(); migrations applied. */
  app: FastifyInstance;
  db: TestDatabase;
  stop(): Promise<void>;
}

/** The app from buildApp() on a fresh database container of the stack's image, migrated as the stack does. */
export async function startAppWithDatabase(): Promise<TestApp> {
  const db = await startDatabase();
  try {
    await migrateDatabase(db);
    const app = await buildApp(loadConfig({ ...db.env }), { logger: false });
    await app.ready();
    return {
      app,
      db,
      async stop() {
        await app.close();
        await db.container.stop();
      },
    };
  } catch (error) {
    await db.container.stop();
    throw error;
  }
}
