import { setTimeout as sleep } from 'node:timers/promises';
import nodemailer from 'nodemailer';
import type { AlertEvent } from './alerts.js';

const TIMEOUT_MS = 10_000;

/** Somewhere an alert is sent; `send` throws when the receiver did not take it. */
export interface Channel {
  name: string;
  send(event: AlertEvent, site: string): Promise<void>;
}

const duration = (ms: number) => {
  const s = Math.round(ms / 1000);
  return s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : `${Math.round(s / 3600)} h`;
};

/** One line a person reads: in a chat message, an e-mail's subject. */
export const alertLine = (event: AlertEvent, site: string) =>
  event.state === 'started'
    ? `[${site}] ALERT: ${event.text}`
    : `[${site}] CLEARED after ${duration(event.at - event.since)}: ${event.text}`;

/**
 * A JSON POST: `text` is what Slack's incoming webhooks show, `content` what Discord's do,
 * and `alert` the same event as fields for anything else.
 */
export function webhookChannel(url: string): Channel {
  return {
    name: 'webhook',
    async send(event, site) {
      const line = alertLine(event, site);
      const response = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          text: line,
          content: line,
          alert: {
            site,
            key: event.key,
            state: event.state,
            text: event.text,
            since: new Date(event.since).toISOString(),
            at: new Date(event.at).toISOString(),
          },
        }),
        signal: AbortSignal.timeout(TIMEOUT_MS),
      });
      await response.body?.cancel();
      if (!response.ok) throw new Error(`the webhook answered HTTP ${response.status}`);
    },
  };
}

/** E-mail through the SMTP server `url` names (smtp:// or smtps://, user and password in it where it wants them). */
export function emailChannel(url: string, from: string, to: string): Channel {
  const transport = nodemailer.createTransport({
    url,
    connectionTimeout: TIMEOUT_MS,
    greetingTimeout: TIMEOUT_MS,
    socketTimeout: TIMEOUT_MS,
  });
  return {
    name: 'email',
    async send(event, site) {
      await transport.sendMail({
        from,
        to,
        subject: alertLine(event, site),
        text: [
          alertLine(event, site),
          '',
          `condition: ${event.key}`,
          `started: ${new Date(event.since).toISOString()}`,
          ...(event.state === 'cleared' ? [`cleared: ${new Date(event.at).toISOString()}`] : []),
        ].join('\n'),
      });
    },
  };
}

export interface DeliveryLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
  error(fields: object, message: string): void;
}

/**
 * Delivers events to every channel, each channel's in the order they came (a clear never
 * overtakes its start). A failed delivery is tried again `retries` times, waiting
 * `retryDelayMs` and then twice as long each time, and is then logged and dropped: a
 * receiver that is down never stops the monitor or holds up the next event for long.
 */
export class Notifier {
  private readonly queues: Map<string, Promise<void>>;

  constructor(
    private readonly channels: Channel[],
    private readonly site: string,
    private readonly log: DeliveryLog,
    private readonly retries: number,
    private readonly retryDelayMs: number,
  ) {
    this.queues = new Map(channels.map((c) => [c.name, Promise.resolve()]));
  }

  notify(events: AlertEvent[]): void {
    for (const channel of this.channels)
      for (const event of events) {
        const queued = this.queues.get(channel.name) ?? Promise.resolve();
        this.queues.set(
          channel.name,
          queued.then(() => this.deliver(channel, event)),
        );
      }
  }

  private async deliver(channel: Channel, event: AlertEvent): Promise<void> {
    const fields = { channel: channel.name, alert: event.key, state: event.state };
    for (let attempt = 0; ; attempt++) {
      try {
        await channel.send(event, this.site);
        this.log.info(fields, `alert ${event.state}: sent by ${channel.name}`);
        return;
      } catch (err) {
        if (attempt >= this.retries) {
          this.log.error({ ...fields, err }, `alert not delivered by ${channel.name} after ${attempt + 1} attempts`);
          return;
        }
        this.log.warn({ ...fields, err }, `alert delivery by ${channel.name} failed; trying again`);
        await sleep(this.retryDelayMs * 2 ** attempt);
      }
    }
  }

  /** Resolves once everything queued so far was delivered or given up. */
  async idle(): Promise<void> {
    await Promise.all(this.queues.values());
  }
}
