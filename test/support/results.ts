import { mkdirSync, writeFileSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { REPO_ROOT } from '../../scripts/tool/core/paths.js';

/** Writes a measured result where the docs' figures are copied from (test/results/, git-ignored). */
export function writeResult(name: string, text: string): void {
  mkdirSync(`${REPO_ROOT}test/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}test/results/${name}`, `${text.trimEnd()}\n`);
}

/** Figures the reliability tests measured, collected in test/results/reliability.json for the docs. */
const RELIABILITY_FILE = `${REPO_ROOT}test/results/reliability.json`;

export async function recordResult(section: string, value: unknown): Promise<void> {
  await mkdir(`${REPO_ROOT}test/results`, { recursive: true });
  const current = JSON.parse(await readFile(RELIABILITY_FILE, 'utf8').catch(() => '{}')) as Record<string, unknown>;
  current[section] = value;
  await writeFile(RELIABILITY_FILE, `${JSON.stringify(current, null, 2)}\n`);
}
