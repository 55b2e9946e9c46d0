import { mkdirSync, writeFileSync } from 'node:fs';
import { REPO_ROOT } from '../../scripts/ops/compose.js';

/** Writes a measured result where the README's figures are copied from (test/results/, git-ignored). */
export function writeResult(name: string, text: string): void {
  mkdirSync(`${REPO_ROOT}test/results`, { recursive: true });
  writeFileSync(`${REPO_ROOT}test/results/${name}`, `${text.trimEnd()}\n`);
}
