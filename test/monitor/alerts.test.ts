import { once } from 'node:events';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { alertReadings, memoryUsedShare, readBackup, type AlertFacts } from '../../nginx/monitor/src/alert-checks.js';
import { Alerting, thresholdsOf } from '../../nginx/monitor/src/alerting.js';
import { AlertBook, type AlertEvent, type Reading } from '../../nginx/monitor/src/alerts.js';
import { loadMonitorConfig } from '../../nginx/monitor/src/config.js';
import { Notifier, webhookChannel, type Channel } from '../../nginx/monitor/src/notify.js';

const REQUIRED = { DB_USER: 'u', DB_PASSWORD: 'p', DB_NAME: 'd' };
const on = (key: string): Reading => ({ key, on: true, text: `${key} is wrong` });
const off = (key: string): Reading => ({ key, on: false, text: `${key} is wrong` });
const summary = (events: AlertEvent[]) => events.map((e) => `${e.state} ${e.key}`);

describe("the alerts' state machine", () => {
  it('starts an alert once its condition has held for the raise delay, sends nothing while it stays, clears it once', () => {
    const book = new AlertBook(3_000, 5_000);
    expect(book.observe([on('disk')], 0)).toEqual([]);
    expect(book.observe([on('disk')], 2_000)).toEqual([]);
    const started = book.observe([on('disk')], 3_000);
    expect(started).toEqual([{ key: 'disk', state: 'started', since: 3_000, at: 3_000, text: 'disk is wrong' }]);
    // Still on, for a long time: nothing more.
    for (let t = 4_000; t < 100_000; t += 1_000) expect(book.observe([on('disk')], t)).toEqual([]);
    expect(book.active).toEqual([{ key: 'disk', since: 3_000, text: 'disk is wrong' }]);
    expect(book.observe([off('disk')], 100_000)).toEqual([]);
    expect(book.observe([off('disk')], 104_000)).toEqual([]);
    expect(summary(book.observe([off('disk')], 105_000))).toEqual(['cleared disk']);
    expect(book.active).toEqual([]);
    for (let t = 106_000; t < 120_000; t += 1_000) expect(book.observe([off('disk')], t)).toEqual([]);
  });

  it('sends nothing for a condition that flaps faster than the hold-downs, on either side', () => {
    const book = new AlertBook(3_000, 5_000);
    for (let t = 0; t < 60_000; t += 1_000)
      expect(book.observe([t % 4_000 < 2_000 ? on('5xx') : off('5xx')], t)).toEqual([]);
    expect(book.active).toEqual([]);
    // Once on, breaks shorter than the clear delay do not clear it (nor start it again).
    const events: AlertEvent[] = [];
    for (let t = 60_000; t < 64_000; t += 1_000) events.push(...book.observe([on('5xx')], t));
    for (let t = 64_000; t < 120_000; t += 1_000)
      events.push(...book.observe([t % 6_000 < 4_000 ? off('5xx') : on('5xx')], t));
    expect(summary(events)).toEqual(['started 5xx']);
  });

  it('keeps a condition without a reading as it was, and the others apart', () => {
    const book = new AlertBook(0, 0);
    expect(summary(book.observe([on('down:app'), off('down:db')], 0))).toEqual(['started down:app']);
    // The app's figure unknown for a while: no clear, no second start.
    expect(book.observe([off('down:db')], 1_000)).toEqual([]);
    expect(summary(book.observe([on('down:app'), on('down:db')], 2_000))).toEqual(['started down:db']);
    expect(summary(book.observe([off('down:app'), on('down:db')], 3_000))).toEqual(['cleared down:app']);
  });

  it('does not start again what was on before a restart, and clears it once when it is over', () => {
    const before = new AlertBook(0, 2_000);
    before.observe([on('certificate:expiry')], 1_000);
    const after = new AlertBook(0, 2_000, before.active);
    expect(after.observe([on('certificate:expiry')], 5_000)).toEqual([]);
    expect(after.observe([off('certificate:expiry')], 6_000)).toEqual([]);
    const cleared = after.observe([off('certificate:expiry')], 8_000);
    expect(cleared).toMatchObject([{ key: 'certificate:expiry', state: 'cleared', since: 1_000, at: 8_000 }]);
  });
});

describe("the alerts' conditions", () => {
  const thresholds = thresholdsOf(loadMonitorConfig(REQUIRED));
  const quiet: AlertFacts = {
    parts: { nginx: true, app: true, db: true },
    diskUsedShare: 0.5,
    memoryUsedShare: 0.5,
    certificateDaysLeft: 60,
    renewal: { failures: 0 },
    responses: { total: 100, errors: 1 },
  };
  const wrong = (facts: Partial<AlertFacts>) =>
    alertReadings({ ...quiet, ...facts }, thresholds)
      .filter((r) => r.on)
      .map((r) => r.key);

  it('finds nothing wrong on a quiet server, at the defaults', () => {
    expect(thresholds).toMatchObject({ diskPercent: 90, memoryPercent: 90, certDays: 14, errorPercent: 5 });
    expect(wrong({})).toEqual([]);
  });

  it('names each condition past its threshold, and only that one', () => {
    expect(wrong({ parts: { nginx: true, app: false, db: true } })).toEqual(['down:app']);
    expect(wrong({ diskUsedShare: 0.93 })).toEqual(['disk']);
    expect(wrong({ memoryUsedShare: 0.91 })).toEqual(['memory']);
    expect(wrong({ certificateDaysLeft: 13 })).toEqual(['certificate:expiry']);
    expect(wrong({ certificateDaysLeft: 14 })).toEqual([]);
    expect(wrong({ renewal: { failures: 2, lastError: 'order: rate limited' } })).toEqual(['certificate:renewal']);
    expect(wrong({ responses: { total: 100, errors: 6 } })).toEqual(['5xx']);
    // Too few requests to speak of a rate.
    expect(wrong({ responses: { total: 3, errors: 3 } })).toEqual([]);
  });

  it('raises the backup-age alert when the last good backup is older than twice the schedule', () => {
    const now = new Date('2026-12-07T12:00:00Z');
    const backup = (lastSuccess: string | undefined, started = '2026-12-01T00:00:00Z') =>
      alertReadings(
        {
          ...quiet,
          backup: {
            intervalSeconds: 3600,
            started: new Date(started),
            lastSuccess: lastSuccess ? new Date(lastSuccess) : undefined,
            lastError: 'wrong repository password',
          },
        },
        thresholds,
        now,
      ).find((r) => r.key === 'backup:age');
    expect(backup('2026-12-07T10:30:00Z')?.on).toBe(false);
    const late = backup('2026-12-07T09:59:00Z');
    expect(late?.on).toBe(true);
    expect(late?.text).toBe(
      'the last good backup is 2.0 h old, more than twice its schedule (1.0 h); last error: wrong repository password',
    );
    // Never backed up: counted from the schedule's start.
    expect(backup(undefined, '2026-12-07T11:00:00Z')?.on).toBe(false);
    expect(backup(undefined, '2026-12-07T09:00:00Z')?.on).toBe(true);
  });

  it("reads the backup service's status file: none where backups are off, none before its schedule starts", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'webstack-backup-state-'));
    const file = path.join(dir, 'status.json');
    expect(await readBackup(file)).toBeUndefined();
    await writeFile(file, JSON.stringify({ last_success: '2026-12-07T10:00:00Z' }));
    expect(await readBackup(file)).toBeUndefined();
    await writeFile(
      file,
      JSON.stringify({
        interval_seconds: 20,
        started: '2026-12-07T09:00:00Z',
        last_success: '2026-12-07T10:00:00Z',
        last_error: null,
      }),
    );
    expect(await readBackup(file)).toEqual({
      intervalSeconds: 20,
      started: new Date('2026-12-07T09:00:00Z'),
      lastSuccess: new Date('2026-12-07T10:00:00Z'),
      lastError: undefined,
    });
    await rm(dir, { recursive: true });
  });

  it('makes no reading of what is unknown (and none of backups where the server runs none)', () => {
    const keys = alertReadings(
      { parts: { nginx: undefined, app: true, db: true }, responses: { total: 0, errors: 0 } },
      thresholds,
    ).map((r) => r.key);
    expect(keys).toEqual(['down:app', 'down:db', '5xx']);
  });

  it("reads the memory in use from /proc/meminfo's available memory", () => {
    const meminfo = 'MemTotal:       1000000 kB\nMemFree:          50000 kB\nMemAvailable:     250000 kB\n';
    expect(memoryUsedShare(meminfo)).toBeCloseTo(0.75);
    expect(() => memoryUsedShare('MemTotal: 1 kB\n')).toThrow(/MemAvailable/);
  });

  it('refuses wrong alert settings, naming them', () => {
    expect(() => loadMonitorConfig({ ...REQUIRED, ALERT_WEBHOOK_URL: 'hooks.example/x' })).toThrow(/ALERT_WEBHOOK_URL/);
    expect(() => loadMonitorConfig({ ...REQUIRED, ALERT_DISK_PERCENT: '120' })).toThrow(/ALERT_DISK_PERCENT/);
    expect(() => loadMonitorConfig({ ...REQUIRED, ALERT_SMTP_URL: 'smtp://mail.example' })).toThrow(/ALERT_EMAIL_TO/);
    expect(() => loadMonitorConfig({ ...REQUIRED, ALERT_EMAIL_TO: 'ops@example.com' })).toThrow(/ALERT_SMTP_URL/);
    expect(
      loadMonitorConfig({ ...REQUIRED, ALERT_SMTP_URL: 'smtp://mail.example:25', ALERT_EMAIL_TO: 'a@example.com' })
        .ALERT_EMAIL_TO,
    ).toBe('a@example.com');
  });
});

const silent = { info: () => undefined, warn: () => undefined, error: () => undefined };
const event: AlertEvent = { key: 'down:app', state: 'started', since: 0, at: 0, text: 'app is down' };

describe("the alerts' delivery", () => {
  it('tries a failed delivery again a bounded number of times, in order, and gives up without throwing', async () => {
    const tries: string[] = [];
    const errors: string[] = [];
    let failuresLeft = 2;
    const flaky: Channel = {
      name: 'flaky',
      send: async (e) => {
        tries.push(e.state);
        if (failuresLeft-- > 0) throw new Error('receiver down');
      },
    };
    const dead: Channel = {
      name: 'dead',
      send: async () => {
        throw new Error('nobody there');
      },
    };
    const log = { ...silent, error: (_f: object, message: string) => errors.push(message) };
    const notifier = new Notifier([flaky, dead], 'www.example.test', log, 3, 1);
    notifier.notify([event, { ...event, state: 'cleared', at: 5_000 }]);
    await notifier.idle();
    // The start went through on its third try, before the clear was tried at all.
    expect(tries).toEqual(['started', 'started', 'started', 'cleared']);
    expect(errors).toEqual([
      'alert not delivered by dead after 4 attempts',
      'alert not delivered by dead after 4 attempts',
    ]);
  });

  it('posts JSON with Slack\'s "text", Discord\'s "content" and the fields, and fails on an error status', async () => {
    const bodies: unknown[] = [];
    let status = 204;
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        bodies.push({ type: request.headers['content-type'], body: JSON.parse(body) as unknown });
        response.writeHead(status).end();
      });
    });
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const hook = webhookChannel(`http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`);
      await hook.send({ ...event, state: 'cleared', at: 125_000 }, 'www.example.test');
      expect(bodies).toEqual([
        {
          type: 'application/json',
          body: {
            text: '[www.example.test] CLEARED after 2 min: app is down',
            content: '[www.example.test] CLEARED after 2 min: app is down',
            alert: {
              site: 'www.example.test',
              key: 'down:app',
              state: 'cleared',
              text: 'app is down',
              since: '1970-01-01T00:00:00.000Z',
              at: '1970-01-01T00:02:05.000Z',
            },
          },
        },
      ]);
      status = 500;
      await expect(hook.send(event, 'www.example.test')).rejects.toThrow(/HTTP 500/);
    } finally {
      server.close();
    }
  });

  it('keeps the alerts that are on in its state file, and starts from it', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'webstack-alerts-'));
    try {
      const config = loadMonitorConfig({
        ...REQUIRED,
        ALERT_STATE_FILE: path.join(dir, 'state', 'alerts.json'),
        ALERT_RAISE_AFTER_SECONDS: '0',
      });
      const sent: AlertEvent[] = [];
      const channel: Channel = { name: 'test', send: async (e) => void sent.push(e) };
      const facts: AlertFacts = { parts: { nginx: true, app: false, db: true }, responses: { total: 0, errors: 0 } };
      const first = await Alerting.start(config, silent, [channel]);
      await first.check(facts, 1_000);
      await first.idle();
      expect(summary(sent)).toEqual(['started down:app']);
      expect(JSON.parse(await readFile(config.ALERT_STATE_FILE, 'utf8'))).toEqual([
        { key: 'down:app', since: 1_000, text: 'app is down' },
      ]);
      const second = await Alerting.start(config, silent, [channel]);
      await second.check(facts, 9_000);
      await second.idle();
      expect(summary(sent)).toEqual(['started down:app']);
      expect(second.active.map((a) => a.key)).toEqual(['down:app']);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
