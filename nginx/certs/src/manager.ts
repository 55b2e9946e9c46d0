// The certificate manager's loop: keep a certificate in place that covers the site's
// names and is not due for renewal. Local mode: from the local CA. ACME mode: the local
// certificate first (so nginx can start), then ACME in the background, each attempt
// preceded by the DNS check and a probe of nginx's challenge path; failures wait with
// exponential backoff that survives restarts (state.json), so the CA is never hammered.
import type { Logger } from 'pino';
import { configureDirectoryHttp, issueAcme } from './acme.js';
import { certInfo, replaceReason } from './cert-info.js';
import { acmeDirectory, type Config } from './config.js';
import { checkDns } from './dns-check.js';
import { siteNames } from './domain.js';
import { issueLocal } from './local-ca.js';
import { probeChallengePath } from './probe.js';
import { CertStore, type Installed, type StoredState } from './store.js';

const HOUR_MS = 3_600_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A step that failed for a reason worth logging as it is (no stack trace). */
class StepFailure extends Error {
  constructor(
    readonly step: string,
    message: string,
  ) {
    super(message);
  }
}

export class CertManager {
  readonly store: CertStore;
  private readonly directory: string | undefined;
  private readonly names: { canonical: string; apex: string };

  constructor(
    private readonly config: Config,
    private readonly log: Logger,
  ) {
    this.store = new CertStore(config.CERTS_DIR, config.HSTS_MAX_AGE);
    this.directory = acmeDirectory(config);
    this.names = siteNames(config.SITE_DOMAIN);
    configureDirectoryHttp(
      config.ACME_HTTP_TIMEOUT_SECONDS * 1000,
      config.ACME_HTTP_RETRIES,
      config.ACME_DIRECTORY_CA || undefined,
    );
  }

  private localNames() {
    return { dns: [this.names.canonical, this.names.apex, 'localhost'], ip: ['127.0.0.1', '::1'] };
  }

  /** Why the installed certificate must be replaced now, or undefined when it is fine. */
  private dueReason(current: Installed | undefined, now: Date): string | undefined {
    if (!current) return 'no certificate yet';
    if (this.directory && current.kind === 'local') return 'serving the local certificate until ACME issues one';
    const wanted = current.kind === 'acme' ? [this.names.canonical, this.names.apex] : this.localNames().dns;
    return replaceReason(current.fullchain, wanted, now);
  }

  /** A local certificate that no longer covers the names or is two thirds through its life. */
  private localStale(cert: Installed): boolean {
    const info = certInfo(cert.fullchain);
    return this.localNames().dns.some((name) => !info.names.includes(name)) || new Date() >= info.renewAt;
  }

  /** Makes sure nginx has something valid to serve: before it starts, and while ACME keeps failing. */
  async ensureLocal(): Promise<void> {
    const current = await this.store.current();
    if (current && !(current.kind === 'local' && this.localStale(current))) return;
    const cert = await issueLocal(this.store, this.localNames(), this.config.LOCAL_CERT_DAYS);
    await this.store.install(cert);
    const info = certInfo(cert.fullchain);
    this.log.info(
      { step: 'installed', kind: 'local', names: info.names, notAfter: info.notAfter },
      'local certificate in place',
    );
  }

  async run(): Promise<never> {
    await this.ensureLocal();
    const mode = this.directory ? 'acme' : 'local';
    const saved = await this.store.state();
    // A change of mode (or a first start) starts with a clean slate of failures. Written again
    // either way, so that a state file from before the monitor read it (mode 600) becomes readable.
    await this.store.saveState(saved?.mode === mode ? saved : { mode, failures: 0 });
    if (!this.directory)
      this.log.info(
        { step: 'mode' },
        "ACME is off (no ACME_DIRECTORY or ACME_EMAIL): serving the local CA's certificate",
      );
    for (;;) {
      try {
        await this.step();
      } catch (err) {
        // Something unplanned (a damaged file on the volume, say): say so, keep serving, try later.
        this.log.error({ step: 'manager', err }, 'unexpected failure; trying again later');
        await sleep(this.config.ACME_RETRY_MIN_SECONDS * 1000);
      }
    }
  }

  /** One turn of the loop: wait for a backoff or the renewal time, or make an attempt. */
  private async step(): Promise<void> {
    await this.ensureLocal();
    const state: StoredState = (await this.store.state()) ?? { mode: this.directory ? 'acme' : 'local', failures: 0 };
    const now = new Date();
    const waitBackoff = state.nextAttempt ? new Date(state.nextAttempt).getTime() - now.getTime() : 0;
    if (waitBackoff > 0) return sleep(Math.min(waitBackoff, HOUR_MS)).then(() => undefined);
    const current = await this.store.current();
    const reason = this.dueReason(current, now);
    if (!reason) {
      const renewAt = certInfo(current!.fullchain).renewAt.getTime();
      await sleep(Math.max(1_000, Math.min(renewAt - now.getTime(), HOUR_MS)));
      return;
    }
    await this.attempt(reason, state);
  }

  private async attempt(reason: string, state: StoredState): Promise<void> {
    const started = new Date();
    this.log.info({ step: 'renew', reason }, 'getting a new certificate');
    try {
      const cert = this.directory
        ? await this.issueThroughAcme(this.directory)
        : await issueLocal(this.store, this.localNames(), this.config.LOCAL_CERT_DAYS);
      await this.store.install(cert);
      const info = certInfo(cert.fullchain);
      this.log.info(
        {
          step: 'installed',
          kind: cert.kind,
          names: info.names,
          issuer: info.issuer,
          notAfter: info.notAfter,
          renewAt: info.renewAt,
        },
        'new certificate in place; nginx reloads it',
      );
      await this.store.saveState({
        mode: this.directory ? 'acme' : 'local',
        failures: 0,
        lastAttempt: started.toISOString(),
        lastIssued: new Date().toISOString(),
      });
    } catch (err) {
      const failures = state.failures + 1;
      const base = Math.min(
        this.config.ACME_RETRY_MAX_SECONDS,
        this.config.ACME_RETRY_MIN_SECONDS * 2 ** (failures - 1),
      );
      // ±20 % jitter, so many servers failing together do not retry together.
      const delayMs = base * 1000 * (0.8 + Math.random() * 0.4);
      const nextAttempt = new Date(Date.now() + delayMs);
      const step = err instanceof StepFailure ? err.step : 'acme';
      const message = (err as Error).message;
      this.log.warn(
        { step, failures, retryAt: nextAttempt.toISOString(), reason: message },
        `${step} failed; keeping the current certificate and retrying later`,
      );
      await this.store.saveState({
        ...state,
        mode: this.directory ? 'acme' : 'local',
        failures,
        lastAttempt: started.toISOString(),
        lastError: `${step}: ${message}`,
        nextAttempt: nextAttempt.toISOString(),
      });
    }
  }

  private async issueThroughAcme(directoryUrl: string): Promise<Installed> {
    const dns = await checkDns({
      siteDomain: this.config.SITE_DOMAIN,
      ipv4: this.config.SERVER_IPV4 || undefined,
      ipv6: this.config.SERVER_IPV6 || undefined,
      caaIdentity: this.config.ACME_CAA_IDENTITY,
      resolver: this.config.DNS_RESOLVER || undefined,
    });
    this.log.info(
      { step: 'dns-check', ok: dns.ok, found: dns.found, problems: dns.problems },
      dns.ok ? 'DNS records are right' : 'DNS records are wrong: no order placed',
    );
    if (!dns.ok) throw new StepFailure('dns-check', dns.problems.join('; '));
    await this.probeWebroot();
    try {
      return await issueAcme(
        this.store,
        {
          directoryUrl,
          email: this.config.ACME_EMAIL || undefined,
          names: [this.names.canonical, this.names.apex],
          webroot: this.config.ACME_WEBROOT,
        },
        this.log,
      );
    } catch (err) {
      throw new StepFailure('acme', (err as Error).message);
    }
  }

  /** nginx must serve the webroot on port 80 before the CA is asked to look there. */
  private async probeWebroot(): Promise<void> {
    try {
      await probeChallengePath(this.config.ACME_WEBROOT, this.config.PROBE_URL, this.names.canonical);
    } catch (err) {
      throw new StepFailure('webroot-probe', (err as Error).message);
    }
  }
}
