import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { alertReadings, type AlertFacts, type AlertThresholds } from './alert-checks.js';
import { AlertBook, type ActiveAlert } from './alerts.js';
import type { MonitorConfig } from './config.js';
import { emailChannel, Notifier, webhookChannel, type Channel, type DeliveryLog } from './notify.js';

export const thresholdsOf = (config: MonitorConfig): AlertThresholds => ({
  diskPath: config.ALERT_DISK_PATH,
  diskPercent: config.ALERT_DISK_PERCENT,
  memoryPercent: config.ALERT_MEMORY_PERCENT,
  certDays: config.ALERT_CERT_DAYS,
  errorPercent: config.ALERT_5XX_PERCENT,
  errorMinRequests: config.ALERT_5XX_MIN_REQUESTS,
  errorWindowSeconds: config.ALERT_5XX_WINDOW_SECONDS,
});

export function channelsOf(config: MonitorConfig): Channel[] {
  const from = config.ALERT_EMAIL_FROM || `webstack@${config.SITE_DOMAIN.replace(/^www\./, '')}`;
  return [
    ...(config.ALERT_WEBHOOK_URL ? [webhookChannel(config.ALERT_WEBHOOK_URL)] : []),
    ...(config.ALERT_SMTP_URL ? [emailChannel(config.ALERT_SMTP_URL, from, config.ALERT_EMAIL_TO)] : []),
  ];
}

async function loadActive(file: string): Promise<ActiveAlert[]> {
  try {
    return JSON.parse(await readFile(file, 'utf8')) as ActiveAlert[];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/**
 * The monitor's alerts: each tick's facts become readings, the book turns them into
 * started and cleared events, the channels deliver those, and the alerts that are on are
 * kept in a file so that a restart does not send them again.
 */
export class Alerting {
  private constructor(
    private readonly book: AlertBook,
    private readonly notifier: Notifier,
    private readonly thresholds: AlertThresholds,
    private readonly stateFile: string,
    private readonly log: DeliveryLog,
  ) {}

  static async start(config: MonitorConfig, log: DeliveryLog, channels = channelsOf(config)): Promise<Alerting> {
    let active: ActiveAlert[] = [];
    try {
      active = await loadActive(config.ALERT_STATE_FILE);
    } catch (err) {
      log.warn({ err }, `cannot read ${config.ALERT_STATE_FILE}: alerts still on will be sent again`);
    }
    if (channels.length === 0)
      log.info({}, 'no alert channel set (ALERT_WEBHOOK_URL, ALERT_SMTP_URL): alerts show on /status only');
    const book = new AlertBook(
      config.ALERT_RAISE_AFTER_SECONDS * 1000,
      config.ALERT_CLEAR_AFTER_SECONDS * 1000,
      active,
    );
    const notifier = new Notifier(
      channels,
      config.SITE_DOMAIN,
      log,
      config.ALERT_RETRIES,
      config.ALERT_RETRY_SECONDS * 1000,
    );
    return new Alerting(book, notifier, thresholdsOf(config), config.ALERT_STATE_FILE, log);
  }

  get active(): ActiveAlert[] {
    return this.book.active;
  }

  get windowMs(): number {
    return this.thresholds.errorWindowSeconds * 1000;
  }

  get diskPath(): string {
    return this.thresholds.diskPath;
  }

  async check(facts: AlertFacts, now: number): Promise<void> {
    const events = this.book.observe(alertReadings(facts, this.thresholds, new Date(now)), now);
    if (events.length === 0) return;
    this.notifier.notify(events);
    try {
      await mkdir(dirname(this.stateFile), { recursive: true });
      await writeFile(`${this.stateFile}.tmp`, JSON.stringify(this.book.active));
      await rename(`${this.stateFile}.tmp`, this.stateFile);
    } catch (err) {
      this.log.warn({ err }, `cannot keep the alerts in ${this.stateFile}: a restart will send those still on again`);
    }
  }

  /** Resolves once every event so far was delivered or given up. */
  idle(): Promise<void> {
    return this.notifier.idle();
  }
}
