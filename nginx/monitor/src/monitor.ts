import { readFileSync } from 'node:fs';
import os from 'node:os';
import { diskUsedShare, readBackup, readMemoryUsedShare, readRenewal, type AlertFacts } from './alert-checks.js';
import type { Alerting } from './alerting.js';
import type { MonitorConfig } from './config.js';
import { PartTracker, type PartHistory } from './history.js';
import { NginxLog, StatusLogReader, type NginxRequest } from './nginx-log.js';
import { sumOf, type Sample } from './prometheus-text.js';
import { buckets, quantileBetween, quantileOf } from './quantiles.js';
import { hitRatio, monitorRegistry } from './registry.js';
import { certificateDaysLeft, resolverFor, resolveSite, type DnsFacts } from './site-facts.js';
import {
  dbStatusReader,
  readAppMetrics,
  readStubStatus,
  readyApp,
  type AppMetrics,
  type DbStatus,
  type StubStatus,
} from './sources.js';

/** Rates and latencies cover this much of the recent past. */
const WINDOW_MS = 5_000;
/**
 * How late nginx's lines arrive at most: its status log buffer is flushed within 1 s
 * (flush=1s) and read once a tick (1 s). nginx's window ends this long ago, so it is whole.
 */
const NGINX_LOG_DELAY_MS = 2_000;
const NGINX_LOG_CAPACITY = 50_000;
/** The status log is emptied once read past this size: a few seconds of the bench's load. */
const STATUS_LOG_TRUNCATE_AT = 4 * 1024 * 1024;
// DNS records and the served certificate change rarely: looked up once a minute.
const SITE_REFRESH_MS = 60_000;
const SITE_RETRY_MS = 5_000;
const PARTS = ['server', 'nginx', 'app', 'db'] as const;
type Part = (typeof PARTS)[number];
type Health = 'up' | 'degraded' | 'down' | 'unknown';

interface Traffic {
  rps?: number;
  p50Ms?: number;
  p99Ms?: number;
  errorRate?: number;
}

/** One read of the app's own metrics, where it serves any. */
interface AppScrape extends AppMetrics {
  at: number;
}

/** The bench's knee: the load one server carries before more connections add only latency. */
function benchKnee(file: string): { connections: number; rps: number; measuredAt: string } | undefined {
  try {
    const run = JSON.parse(readFileSync(file, 'utf8')) as {
      startedAt: string;
      kneeConnections: number;
      sweep: Array<{ connections: number; result: { requestsPerSecond: number } }>;
    };
    const knee = run.sweep.find((s) => s.connections === run.kneeConnections);
    return knee && { connections: knee.connections, rps: knee.result.requestsPerSecond, measuredAt: run.startedAt };
  } catch {
    return undefined;
  }
}

const round = (value: number | undefined, digits = 2) =>
  value === undefined || !Number.isFinite(value) ? undefined : Number(value.toFixed(digits));

function nginxTraffic(requests: NginxRequest[]): Traffic {
  const times = requests.map((r) => r.requestMs);
  return {
    rps: round(requests.length / (WINDOW_MS / 1000)),
    p50Ms: round(quantileOf(times, 0.5)),
    p99Ms: round(quantileOf(times, 0.99)),
    errorRate: requests.length ? round(requests.filter((r) => r.status >= 500).length / requests.length, 4) : undefined,
  };
}

/** Rate, p50/p99 and 5xx share of the app between two scrapes of its histogram. */
function appTraffic(before: AppScrape, after: AppScrape): Traffic {
  const seconds = (after.at - before.at) / 1000;
  const total = (s: Sample[]) => sumOf(s, 'http_requests_total');
  const errors = (s: Sample[]) =>
    s
      .filter((x) => x.name === 'http_requests_total' && x.labels.status?.startsWith('5'))
      .reduce((t, x) => t + x.value, 0);
  const count = total(after.samples) - total(before.samples);
  const all = () => true;
  const q = (p: number) =>
    quantileBetween(
      buckets(before.samples, 'http_request_duration_seconds', all),
      buckets(after.samples, 'http_request_duration_seconds', all),
      p,
    );
  return {
    rps: round(seconds > 0 ? count / seconds : undefined),
    p50Ms: round((q(0.5) ?? NaN) * 1000),
    p99Ms: round((q(0.99) ?? NaN) * 1000),
    errorRate: count > 0 ? round((errors(after.samples) - errors(before.samples)) / count, 4) : undefined,
  };
}

function dbTraffic(
  before: AppScrape | undefined,
  after: AppScrape | undefined,
  statuses: Array<{ at: number; s: DbStatus }>,
) {
  const first = statuses[0];
  const last = statuses.at(-1);
  const seconds = first && last ? (last.at - first.at) / 1000 : 0;
  const all = () => true;
  const q = (p: number) =>
    before && after
      ? quantileBetween(
          buckets(before.samples, 'db_query_duration_seconds', all),
          buckets(after.samples, 'db_query_duration_seconds', all),
          p,
        )
      : undefined;
  const errors = (s: Sample[]) => sumOf(s, 'db_query_duration_seconds_count', { outcome: 'error' });
  const count = (s: Sample[]) => sumOf(s, 'db_query_duration_seconds_count');
  const queries = before && after ? count(after.samples) - count(before.samples) : 0;
  return {
    // Statements per second as the server counts them (the monitor's own included).
    rps: round(first && last && seconds > 0 ? (last.s.Questions - first.s.Questions) / seconds : undefined),
    p50Ms: round((q(0.5) ?? NaN) * 1000),
    p99Ms: round((q(0.99) ?? NaN) * 1000),
    errorRate:
      before && after && queries > 0 ? round((errors(after.samples) - errors(before.samples)) / queries, 4) : undefined,
  };
}

const healthOf = (up: boolean | undefined, traffic: Traffic): Health =>
  up === undefined ? 'unknown' : !up ? 'down' : (traffic.errorRate ?? 0) > 0.05 ? 'degraded' : 'up';

/**
 * Gathers every hop's figures once a second: nginx's stub_status and per-request log lines,
 * whether the app is ready (and its Prometheus metrics, if it has any), the database's
 * status variables. Keeps what the status page shows, including what each part has been
 * through.
 */
export class Monitor {
  readonly metrics = monitorRegistry();
  readonly nginxLog = new NginxLog(NGINX_LOG_CAPACITY, (request) => this.metrics.nginxRequest(request));
  private readonly statusLog: StatusLogReader;
  private readonly db: ReturnType<typeof dbStatusReader>;
  private readonly trackers = Object.fromEntries(PARTS.map((p) => [p, new PartTracker()])) as Record<Part, PartTracker>;
  private appScrapes: AppScrape[] = [];
  /** Where the app answered ready at the last tick; undefined while it is down. */
  private readyAppUrl?: string;
  private dbStatuses: Array<{ at: number; s: DbStatus }> = [];
  private stub?: StubStatus;
  private lastStubRequests = 0;
  private appLastGood = 0;
  private appDownSince?: number;
  private lastDeploy?: { from: number; at: number; failedRequests: number; kind: string };
  private readonly appUrls: string[];
  private readonly failingFacts = new Set<string>();
  latest?: ReturnType<Monitor['snapshot']>;
  private site: {
    dns?: DnsFacts;
    certificateDaysLeft?: number;
    certificateError?: string;
    next: number;
    refreshing: boolean;
  } = { next: 0, refreshing: false };

  constructor(
    private readonly config: MonitorConfig,
    private readonly warn: (err: unknown, message: string) => void,
    private readonly alerting?: Alerting,
  ) {
    this.db = dbStatusReader({
      host: config.DB_HOST,
      port: config.DB_PORT,
      user: config.DB_USER,
      password: config.DB_PASSWORD,
      database: config.DB_NAME,
    });
    // The app listens on 5000; during a deploy the new release serves on 5001 meanwhile.
    this.statusLog = new StatusLogReader(config.NGINX_STATUS_LOG, STATUS_LOG_TRUNCATE_AT);
    const base = new URL(config.APP_URL);
    this.appUrls = [config.APP_URL, `${base.protocol}//${base.hostname}:${Number(base.port || 80) + 1}`];
  }

  /** The app's last metrics text, for /metrics (the monitor relays it with its own). */
  get appMetricsText(): string | undefined {
    return this.appScrapes.at(-1)?.text;
  }

  get appUrl(): string | undefined {
    return this.readyAppUrl;
  }

  /** Ready or not by the app's readiness path alone; its metrics, where it serves any, from the same address. */
  private async readApp(): Promise<{ url: string; metrics?: AppMetrics }> {
    const url = await readyApp(this.appUrls, this.config.APP_READY_PATH);
    return { url, metrics: await readAppMetrics(url).catch(() => undefined) };
  }

  /** The DNS records and the certificate's days left, once a minute, without holding up a tick. */
  private refreshSite(now: number): void {
    if (this.site.refreshing || now < this.site.next) return;
    this.site.refreshing = true;
    const { SITE_DOMAIN, SERVER_IPV4, DNS_RESOLVER } = this.config;
    // Without the server's address (a laptop, the tests' stacks) there is nothing to compare
    // the records with, and no lookup leaves the machine.
    const dns = SERVER_IPV4
      ? resolveSite(SITE_DOMAIN, SERVER_IPV4, resolverFor(DNS_RESOLVER || undefined))
      : Promise.resolve(undefined);
    void Promise.allSettled([dns, certificateDaysLeft(SITE_DOMAIN)]).then(([facts, days]) => {
      if (days.status === 'rejected') this.warn(days.reason, 'cannot read the certificate nginx serves');
      const failed = facts.status === 'rejected' || days.status === 'rejected';
      this.site = {
        dns: facts.status === 'fulfilled' ? facts.value : undefined,
        certificateDaysLeft: days.status === 'fulfilled' ? days.value : undefined,
        certificateError: days.status === 'rejected' ? String((days.reason as Error).message) : undefined,
        // nginx may not listen yet when the monitor starts: a failure is retried soon.
        next: now + (failed ? SITE_RETRY_MS : SITE_REFRESH_MS),
        refreshing: false,
      };
    });
  }

  async tick(now = Date.now()): Promise<void> {
    this.refreshSite(now);
    const [lines, stub, app, db] = await Promise.allSettled([
      this.statusLog.read(),
      readStubStatus(this.config.NGINX_STATUS_URL),
      this.readApp(),
      this.db.read(),
    ]);
    // Without its lines the other figures still come: the page stays useful.
    if (lines.status === 'fulfilled') this.nginxLog.addLines(lines.value);
    else this.warn(lines.reason, `cannot read nginx's status log ${this.config.NGINX_STATUS_LOG}`);

    // nginx: its counters fall back to zero when it restarts (a reload keeps them).
    const nginxUp = stub.status === 'fulfilled';
    if (nginxUp) {
      const restarted = stub.value.requests < this.lastStubRequests;
      this.trackers.nginx.observe(true, now);
      if (restarted) this.trackers.nginx.history.restarts += 1;
      this.lastStubRequests = stub.value.requests;
      this.stub = stub.value;
      this.metrics.stubStatus(stub.value);
    } else {
      this.trackers.nginx.observe(false, now);
      this.stub = undefined;
    }

    const appUp = app.status === 'fulfilled';
    if (appUp) {
      const { url, metrics } = app.value;
      // Its own start time, where its metrics say: a restart between two ticks still counts.
      const started = metrics?.samples.find((s) => s.name === 'process_start_time_seconds');
      const seen = this.trackers.app.observe(true, now, started && started.value * 1000);
      if (seen.cameBack || seen.restarted) this.recordAppChange(now, seen.cameBack ? 'outage' : 'restart');
      this.appLastGood = now;
      this.appDownSince = undefined;
      this.readyAppUrl = url;
      // A new process starts its counters at zero: deltas across it would be nonsense.
      if (seen.restarted) this.appScrapes = [];
      this.appScrapes = [
        ...this.appScrapes.filter((s) => s.at >= now - WINDOW_MS),
        ...(metrics ? [{ at: now, ...metrics }] : []),
      ];
    } else {
      this.trackers.app.observe(false, now);
      this.appDownSince ??= now;
      this.readyAppUrl = undefined;
      this.appScrapes = [];
    }

    const dbUp = db.status === 'fulfilled';
    if (dbUp) {
      this.trackers.db.observe(true, now, now - db.value.Uptime * 1000);
      this.metrics.dbStatus(db.value);
      this.dbStatuses = [...this.dbStatuses.filter((s) => s.at >= now - WINDOW_MS), { at: now, s: db.value }];
    } else {
      this.trackers.db.observe(false, now);
      this.dbStatuses = [];
    }
    // The monitor runs in the server's namespace: if it answers, the server is up.
    this.trackers.server.observe(true, now, now - os.uptime() * 1000);
    for (const part of PARTS) this.metrics.up(part, this.trackers[part].history.up === true);
    if (this.alerting) await this.alerting.check(await this.alertFacts(this.alerting, now), now);
    this.latest = this.snapshot(now);
  }

  /** A fact's value, or undefined when it could not be read: said once when it starts failing, not every tick. */
  private fact<T>(result: PromiseSettledResult<T>, failure: string): T | undefined {
    if (result.status === 'fulfilled') {
      this.failingFacts.delete(failure);
      return result.value;
    }
    if (!this.failingFacts.has(failure)) this.warn(result.reason, failure);
    this.failingFacts.add(failure);
    return undefined;
  }

  /** What the alerts are judged by; a figure that cannot be read is left out and logged. */
  private async alertFacts(alerting: Alerting, now: number): Promise<AlertFacts> {
    const [disk, memory, renewal, backup] = await Promise.allSettled([
      diskUsedShare(alerting.diskPath),
      readMemoryUsedShare(),
      readRenewal(this.config.CERTS_STATE_FILE),
      readBackup(this.config.BACKUP_STATE_FILE),
    ]);
    const windowEnd = now - NGINX_LOG_DELAY_MS;
    const responses = this.nginxLog.between(windowEnd - alerting.windowMs, windowEnd);
    return {
      parts: {
        nginx: this.trackers.nginx.history.up,
        app: this.trackers.app.history.up,
        db: this.trackers.db.history.up,
      },
      diskUsedShare: this.fact(disk, `cannot read the disk's use at ${alerting.diskPath}`),
      memoryUsedShare: this.fact(memory, 'cannot read the memory use'),
      certificateDaysLeft: this.site.certificateDaysLeft,
      renewal: this.fact(renewal, `cannot read ${this.config.CERTS_STATE_FILE}`),
      backup: this.fact(backup, `cannot read ${this.config.BACKUP_STATE_FILE}`),
      responses: { total: responses.length, errors: responses.filter((r) => r.status >= 500).length },
    };
  }

  /** The app was replaced or came back: how long it was away and what users saw meanwhile. */
  private recordAppChange(now: number, kind: string) {
    this.lastDeploy = { from: this.appDownSince ?? this.appLastGood, at: now, failedRequests: 0, kind };
  }

  /** The API requests nginx failed (502-504) while the app was away; its lines come in up to NGINX_LOG_DELAY_MS late. */
  private lastAppChange() {
    const change = this.lastDeploy;
    if (!change) return undefined;
    const failed = this.nginxLog
      .between(change.from - 1_000, change.at)
      .filter((r) => r.uri.startsWith('/api/') && r.status >= 502 && r.status <= 504).length;
    // Counted again each tick until the late lines are in; kept once the ring has moved on.
    change.failedRequests = Math.max(change.failedRequests, failed);
    return {
      at: new Date(change.at).toISOString(),
      unreachableSeconds: round((change.at - change.from) / 1000, 1) ?? 0,
      failedRequests: change.failedRequests,
      kind: change.kind,
    };
  }

  snapshot(now: number) {
    const nginxWindowEnd = now - NGINX_LOG_DELAY_MS;
    const recentNginx = this.nginxLog.between(nginxWindowEnd - WINDOW_MS, nginxWindowEnd);
    const api = recentNginx.filter((r) => r.uri.startsWith('/api/'));
    const nginx = nginxTraffic(recentNginx);
    const firstApp = this.appScrapes[0];
    const lastApp = this.appScrapes.at(-1);
    const app = firstApp && lastApp && lastApp !== firstApp ? appTraffic(firstApp, lastApp) : {};
    const db = dbTraffic(firstApp, lastApp, this.dbStatuses);
    const dbStatus = this.dbStatuses.at(-1)?.s;
    const knee = benchKnee(this.config.BENCH_RESULTS);
    const apiRps = api.length / (WINDOW_MS / 1000);
    const history = (part: Part): PartHistory => this.trackers[part].history;
    const gauge = (name: string, labels: Record<string, string> = {}) =>
      lastApp ? sumOf(lastApp.samples, name, labels) : undefined;
    const memory = os.totalmem();

    return {
      at: new Date(now).toISOString(),
      alerts: (this.alerting?.active ?? []).map((a) => ({ ...a, since: new Date(a.since).toISOString() })),
      parts: {
        user: {
          health: (recentNginx.length > 0 ? 'up' : 'unknown') as Health,
          traffic: nginx,
          detail: { clientsConnected: this.stub?.active },
        },
        dns: {
          health: (this.site.dns?.health ?? 'unknown') as Health,
          traffic: {},
          detail: { domain: this.config.SITE_DOMAIN, records: this.site.dns?.records ?? null },
        },
        server: {
          health: 'up' as Health,
          traffic: {},
          detail: {
            load1: round(os.loadavg()[0]),
            cpus: os.cpus().length,
            memoryUsedShare: round(1 - os.freemem() / memory, 3),
          },
        },
        nginx: {
          health: healthOf(history('nginx').up, nginx),
          traffic: nginx,
          detail: {
            ports: [80, 443],
            certificateDaysLeft: this.site.certificateDaysLeft ?? null,
            // Why the days are unknown, when a handshake with nginx failed.
            certificateError: this.site.certificateError ?? null,
            connections: this.stub && {
              active: this.stub.active,
              reading: this.stub.reading,
              writing: this.stub.writing,
              waiting: this.stub.waiting,
            },
          },
        },
        app: {
          health: healthOf(history('app').up, app),
          traffic: app,
          detail: {
            address: new URL(this.appUrl ?? this.config.APP_URL).host,
            release: lastApp?.samples.find((s) => s.name === 'app_info')?.labels.release,
            poolInUse: gauge('db_pool_connections', { state: 'in_use' }),
            poolWaiting: gauge('db_pool_waiting'),
            rssMiB: round((gauge('process_resident_memory_bytes') ?? NaN) / 1048576, 1),
            eventLoopP99Ms: round((gauge('nodejs_eventloop_lag_p99_seconds') ?? NaN) * 1000),
          },
        },
        db: {
          health: healthOf(history('db').up, db),
          traffic: db,
          detail: {
            address: `127.0.0.1:${this.config.DB_PORT}`,
            threadsConnected: dbStatus?.Threads_connected,
            threadsRunning: dbStatus?.Threads_running,
            bufferPoolHitRatio: dbStatus && round(hitRatio(dbStatus), 4),
            rowLockWaits: dbStatus?.Innodb_row_lock_waits,
            schemaBytes: dbStatus?.dataBytes,
          },
        },
      },
      weakPoints: {
        singlePointOfFailure: Object.fromEntries(
          PARTS.map((p) => {
            const h = history(p);
            return [
              p,
              {
                up: h.up,
                upSince: h.upSince && new Date(h.upSince).toISOString(),
                restarts: h.restarts,
                lastOutage: h.lastOutage && {
                  from: new Date(h.lastOutage.from).toISOString(),
                  seconds: round(((h.lastOutage.to ?? now) - h.lastOutage.from) / 1000, 1),
                  ongoing: h.lastOutage.to === undefined,
                },
              },
            ];
          }),
        ),
        maintenance: {
          lastAppChange: this.lastAppChange(),
        },
        scalability: {
          apiRps: round(apiRps),
          knee: knee ?? null,
          loadShare: knee ? round(apiRps / knee.rps, 3) : null,
        },
      },
      // The latest lines read, newer than the window: a request just made shows soon.
      recent: this.nginxLog
        .latest(12)
        .reverse()
        .map((r) => ({ id: r.id, method: r.method, uri: r.uri, status: r.status, ms: round(r.requestMs) })),
    };
  }

  async close(): Promise<void> {
    await this.db.close();
  }
}
