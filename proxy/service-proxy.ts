/**
 * The proxy's loop (kube-proxy's syncProxyRules driven by its BoundedFrequencyRunner): any
 * change of Services or endpoints asks for a sync; syncs never overlap, and changes that arrive
 * during one are folded into a single next one; a periodic resync repairs whatever went missing
 * meanwhile. Each sync hands the datapath the whole state the config gives. As kube-proxy only
 * syncs when its change trackers hold changes, a requested sync whose state equals the last one
 * synced is skipped (a pod no Service selects changing its status costs no iptables-restore);
 * the periodic one always runs. Nothing is synced until the config is synced (kube-proxy waits
 * for its informers the same way), so the rules a previous process left stay until then.
 * A failed sync is retried after a backoff (1 s doubling up to the sync period, where kube-proxy
 * retries after the sync period), and changes meanwhile wait for that retry, so a failing
 * iptables-restore is not run again on every change.
 *
 *   config (manifests + pods | API Services + EndpointSlices) ─► state ─► proxier.sync (iptables | userspace)
 */
import type { Logger } from 'pino';
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { errorMessage } from '../common/api/errors.js';
import { delay, type Clock } from '../common/util/clock.js';
import { CoalescingRunner } from '../common/util/coalescing-runner.js';
import type { ProxyConfig } from './config/proxy-config.js';
import type { Proxier, ProxyState } from './datapath/proxier.js';

export interface ServiceProxyOptions {
  config: ProxyConfig;
  proxier: Proxier;
  /** kube-proxy's syncPeriod: a full resync at least this often. */
  syncPeriodMs: number;
  clock: Clock;
  logger: Logger;
}

const RetryInitialMs = 1000;

export class ServiceProxy {
  readonly metrics = new Registry();
  readonly #o: ServiceProxyOptions;
  readonly #log: Logger;
  readonly #duration: Histogram;
  readonly #syncs: Counter<'result'>;
  readonly #lastSync: Gauge;
  readonly #servicePorts: Gauge;
  readonly #syncer = new CoalescingRunner(() => this.#syncOnce());
  #timer: NodeJS.Timeout | undefined;
  #stopped = false;
  readonly #stopping = new AbortController();
  /** Failed syncs in a row, and the wait before the next sync may run. */
  #failures = 0;
  #retryWait: Promise<void> | undefined;
  /** The state of the last successful sync; undefined forces the next one. */
  #syncedState: string | undefined;
  /** The unproxyable endpoints last reported, so that each set is logged once. */
  #reportedUnproxyable = '';
  /** When the last sync succeeded (ms), for /healthz. */
  lastSyncedAt: number | undefined;

  constructor(options: ServiceProxyOptions) {
    this.#o = options;
    this.#log = options.logger.child({ component: 'service-proxy' });
    this.#duration = new Histogram({
      name: 'kubeproxy_sync_proxy_rules_duration_seconds',
      help: 'SyncProxyRules latency in seconds',
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [this.metrics],
    });
    this.#syncs = new Counter({ name: 'dockerlet_proxy_syncs_total', help: 'Syncs of the proxy datapath, by result', labelNames: ['result'], registers: [this.metrics] });
    this.#lastSync = new Gauge({
      name: 'kubeproxy_sync_proxy_rules_last_timestamp_seconds',
      help: 'The last time proxy rules were successfully synced',
      registers: [this.metrics],
    });
    this.#servicePorts = new Gauge({ name: 'dockerlet_proxy_service_ports', help: 'Service ports in the last sync of the datapath', registers: [this.metrics] });
  }

  /** Syncs once the config is synced, then follows changes and resyncs periodically. */
  async start(): Promise<void> {
    this.#o.config.onChange(() => void this.requestSync());
    await this.#o.config.start();
    await this.requestSync();
    this.#schedulePeriodic();
  }

  /** Stops syncing; the datapath is left as it is (a restarted proxy takes it over). */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#stopping.abort();
    clearTimeout(this.#timer);
    await this.#o.config.stop();
    await this.#syncer.stop();
    await this.#o.proxier.stop();
  }

  /** Asks for a sync; resolves once a sync that started after this call has ended. */
  requestSync(): Promise<void> {
    return this.#syncer.run();
  }

  #schedulePeriodic(): void {
    if (this.#stopped) return;
    this.#timer = setTimeout(() => {
      this.#syncedState = undefined;
      void this.requestSync().finally(() => this.#schedulePeriodic());
    }, this.#o.syncPeriodMs);
    this.#timer.unref();
  }

  #reportUnproxyable(state: ProxyState): void {
    const listed = (state.unproxyable ?? []).join(', ');
    if (listed === this.#reportedUnproxyable) return;
    this.#reportedUnproxyable = listed;
    if (listed) this.#log.warn({ endpoints: state.unproxyable }, 'endpoints on loopback or link-local addresses are not proxied');
  }

  async #syncOnce(): Promise<void> {
    await this.#retryWait;
    if (this.#stopped || !this.#o.config.synced()) return;
    const started = performance.now();
    try {
      const state = this.#o.config.state();
      const key = stateKey(state);
      if (key === this.#syncedState) return;
      this.#reportUnproxyable(state);
      this.#syncedState = undefined;
      await this.#o.proxier.sync(state);
      this.#syncedState = key;
      this.#failures = 0;
      const seconds = (performance.now() - started) / 1000;
      this.#duration.observe(seconds);
      this.#syncs.inc({ result: 'success' });
      this.lastSyncedAt = this.#o.clock.now();
      this.#lastSync.set(this.lastSyncedAt / 1000);
      this.#servicePorts.set(state.servicePorts.length);
      this.#log.debug({ servicePorts: state.servicePorts.length, seconds }, 'synced the datapath');
    } catch (err) {
      this.#syncs.inc({ result: 'error' });
      this.#failures++;
      const retryInMs = Math.min(RetryInitialMs * 2 ** (this.#failures - 1), this.#o.syncPeriodMs);
      this.#log.error({ err: errorMessage(err), retryInMs }, 'syncing the datapath failed; will retry');
      const retryWait = (this.#retryWait = delay(retryInMs, this.#stopping.signal));
      void retryWait.then(() => {
        if (this.#retryWait === retryWait) this.#retryWait = undefined;
        return this.requestSync();
      });
    }
  }
}

/** A ProxyState as a string that is equal exactly when the states are (endpoint order counts: it is the rules' order). */
function stateKey(state: ProxyState): string {
  return JSON.stringify([state.servicePorts, [...state.endpoints].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))]);
}
