import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execOk, logText } from '../../scripts/tool/core/docker.js';
import { request } from '../../scripts/tool/core/http.js';
import { sleep, waitFor } from '../../scripts/tool/core/wait.js';
import { startStack, type Stack } from '../../scripts/tool/testing/stack.js';
import { writeResult } from '../support/results.js';

/**
 * The monitor's alerts, each caused for real on a stack of the test's own
 * (alerts-stack/compose.yml: hold-downs of 2 and 3 s, a 8 MiB disk to fill, a local
 * certificate of 10 days, ACME that fails) and received by the test's own webhook and SMTP sink.
 */
interface Received {
  kind: 'webhook' | 'email' | 'refused';
  type?: string;
  body?: { text: string; content: string; alert: { key: string; state: string; site: string; text: string } };
  from?: string;
  to?: string[];
  subject?: string;
}

let stack: Stack;
let startedAt = 0;
beforeAll(async () => {
  const started = Date.now();
  stack = await startStack({ overrides: [path.resolve(import.meta.dirname, 'alerts-stack/compose.yml')] });
  startedAt = Date.now();
  console.log(`alerts stack up in ${((startedAt - started) / 1000).toFixed(1)} s`);
});
afterAll(async () => {
  if (startedAt) {
    console.log(`alerts tests ran ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
    // What the receivers got, as they got it: the docs' examples come from here.
    writeResult('alerts-received.jsonl', (await received()).map((r) => JSON.stringify(r)).join('\n'));
  }
  await stack?.stop();
});

const received = async (): Promise<Received[]> =>
  (await logText(await stack.container('alert-sink')))
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Received);

/** The webhook's events for one condition, as "started"/"cleared" in the order they came. */
const hooks = async (key: string) =>
  (await received()).filter((r) => r.kind === 'webhook' && r.body?.alert.key === key).map((r) => r.body!.alert.state);
const mails = async (pattern: RegExp) =>
  (await received()).filter((r) => r.kind === 'email' && pattern.test(r.subject ?? ''));

/**
 * Waits until `key` has had `states` by webhook after the first `skip` of its events (those
 * of the stack's start: the app is down until it first comes up), then holds a while longer:
 * nothing more may come.
 */
async function expectExactly(key: string, states: string[], skip = 0) {
  const after = async () => (await hooks(key)).slice(skip);
  await waitFor(
    `the webhook got ${states.join(', ')} for ${key}`,
    async () => (await after()).length >= states.length,
    {
      timeoutMs: 60_000,
      intervalMs: 500,
    },
  );
  // Longer than both hold-downs and a few ticks: a storm would show.
  await sleep(6_000);
  expect(await after()).toEqual(states);
}

/** The monitor's snapshot, as /status gets it, asked inside its namespace. */
async function snapshot(): Promise<{
  alerts: Array<{ key: string }>;
  parts: { nginx: { detail: { certificateDaysLeft: number | null } } };
}> {
  const script =
    "fetch('http://127.0.0.1:9100/events').then(async (r) => { const reader = r.body.getReader(); let t = '';" +
    ' for (;;) { const { value } = await reader.read(); t += Buffer.from(value).toString(); const m = /^data: (.*)\\n\\n/m.exec(t);' +
    ' if (m) { console.log(m[1]); process.exit(0); } } })';
  return JSON.parse(await execOk(await stack.container('monitor'), ['node', '-e', script])) as never;
}

describe('alerts from the monitor', () => {
  it('a certificate within its days and its renewal failing: one alert each by webhook (retried once refused) and by e-mail, not sent again after a restart', async () => {
    await expectExactly('certificate:expiry', ['started']);
    const all = await received();
    // The sink refused the first POST: it came again, and every event came once by each channel.
    expect(all[0]?.kind).toBe('refused');
    expect(all.filter((r) => r.kind === 'webhook').map((r) => r.body?.text)).toEqual(
      all.filter((r) => r.kind === 'email').map((r) => r.subject),
    );
    const hook = all.find((r) => r.body?.alert.key === 'certificate:expiry');
    expect(hook?.type).toBe('application/json');
    expect(hook?.body?.text).toMatch(/^\[www\.foobar\.com\] ALERT: the certificate nginx serves expires in 9 days/);
    expect(hook?.body?.content).toBe(hook?.body?.text);
    const mail = await mails(/ALERT: the certificate nginx serves expires in 9 days/);
    expect(mail).toHaveLength(1);
    expect(mail[0]).toMatchObject({ to: ['ops@example.test'], from: 'webstack@foobar.com' });
    expect((await snapshot()).alerts.map((a) => a.key)).toContain('certificate:expiry');

    // The certs service's failed renewal, from its state file: one alert, which stays on.
    await expectExactly('certificate:renewal', ['started']);
    expect((await received()).find((r) => r.body?.alert.key === 'certificate:renewal')?.body?.alert.text).toMatch(
      /^certificate renewal failing \(1 failed since the last success\): \w+/,
    );

    await stack.compose(['restart', 'monitor']);
    // The restarted monitor has read the certificate again and judged it.
    await waitFor(
      'the restarted monitor read the certificate',
      async () => (await snapshot()).parts.nginx.detail.certificateDaysLeft === 9,
      { timeoutMs: 60_000, intervalMs: 1_000 },
    );
    await sleep(5_000);
    expect(await hooks('certificate:expiry')).toEqual(['started']);
    expect(await hooks('certificate:renewal')).toEqual(['started']);
    expect(await mails(/certificate/)).toHaveLength(2);
  });

  it('the app stopped: one "down" alert and one 5xx alert while nginx answers 502, each cleared once it is back', async () => {
    const skip = (await hooks('down:app')).length;
    const skipMails = (await mails(/app is down/)).length;
    const others = async () => [...(await hooks('down:db')), ...(await hooks('down:nginx'))];
    const othersBefore = await others();
    await stack.compose(['stop', 'app']);
    try {
      // Traffic in the meantime: nginx answers /api/ with 502 while the app is away.
      const statuses: number[] = [];
      for (let i = 0; i < 30; i++) statuses.push((await request(stack.port, '/api/posts')).status);
      expect(statuses.filter((s) => s === 502).length).toBe(30);
      await waitFor(
        'both alerts started',
        async () => (await hooks('down:app')).length > skip && (await hooks('5xx')).length > 0,
        { timeoutMs: 60_000, intervalMs: 500 },
      );
      expect((await snapshot()).alerts.map((a) => a.key)).toEqual(expect.arrayContaining(['down:app', '5xx']));
      await expectExactly('down:app', ['started'], skip);
      expect(await hooks('5xx')).toEqual(['started']);
    } finally {
      await stack.compose(['start', 'app']);
    }
    await expectExactly('down:app', ['started', 'cleared'], skip);
    // The 5xx share falls once the burst leaves its 10 s window.
    await expectExactly('5xx', ['started', 'cleared']);
    expect((await mails(/app is down/)).slice(skipMails).map((m) => m.subject)).toEqual([
      '[www.foobar.com] ALERT: app is down',
      expect.stringMatching(/^\[www\.foobar\.com\] CLEARED after \d+ s: app is down$/),
    ]);
    expect(await others()).toEqual(othersBefore);
  });

  it('the watched disk filled past its threshold: one alert, cleared once when space is freed', async () => {
    const monitor = await stack.container('monitor');
    // 6 of its 8 MiB: past the test's 50 %.
    await execOk(monitor, ['dd', 'if=/dev/zero', 'of=/srv/small-disk/fill', 'bs=1M', 'count=6']);
    try {
      await expectExactly('disk', ['started']);
      expect((await received()).find((r) => r.body?.alert.key === 'disk')?.body?.alert.text).toMatch(
        /^disk \d+ % used at \/srv\/small-disk, above 50 %$/,
      );
    } finally {
      await execOk(monitor, ['rm', '-f', '/srv/small-disk/fill']);
    }
    await expectExactly('disk', ['started', 'cleared']);
  });
});
