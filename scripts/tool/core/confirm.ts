import { createInterface } from 'node:readline/promises';

/** Asks in the terminal; refuses to guess when there is none (a script must pass --yes). */
export async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY) {
    throw new Error('restore overwrites the database: run it in a terminal to confirm, or pass --yes');
  }
  const prompt = createInterface({ input: process.stdin, output: process.stdout });
  const answer = await prompt.question(`${question} [y/N] `);
  prompt.close();
  return /^y(es)?$/i.test(answer.trim());
}
