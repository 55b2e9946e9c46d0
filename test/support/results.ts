import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { REPO_ROOT } from './compose.js';

/** Figures tests measured, collected in test/results/reliability.json for the README. */
const FILE = `${REPO_ROOT}test/results/reliability.json`;

export async function recordResult(section: string, value: unknown): Promise<void> {
  await mkdir(`${REPO_ROOT}test/results`, { recursive: true });
  const current = JSON.parse(await readFile(FILE, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  current[section] = value;
  await writeFile(FILE, `${JSON.stringify(current, null, 2)}\n`);
}
