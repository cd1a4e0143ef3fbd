import type { Redis } from 'ioredis';
import type { Negotiator } from '../broker/ports.js';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { SESSION_PHASES, isTerminal } from '../domain/phases.js';
import type { RedisKeys } from '../store/redis-keys.js';

/** How late the offer expiry sweep (every second) may be before a hold counts as overdue at /metrics. */
export const OFFER_EXPIRY_OVERDUE_MS = 5_000;

/** Where the cluster-wide figures come from at scrape time (every API process shows the same). */
export interface MetricsSources {
  redis: Redis;
  keys: RedisKeys;
  sites: readonly string[];
  /** Jobs per queue and state (waiting, active, delayed, failed). */
  queueCounts(): Promise<Record<string, Record<string, number>>>;
  /** Live site workers per site (fresh heartbeats). */
  liveWorkers(): Promise<Record<string, number>>;
  /** This process's Redis subscriptions, and whether each is subscribed now. */
  subscriptions?(): Record<string, boolean>;
  /** How the site capabilities catalogue's refreshes went (when the broker reads one). */
  siteCatalogue?(): Promise<{ fetchedAt?: number; lastAttempt?: number; lastError?: string }>;
}

/**
 * The Prometheus metrics at /metrics. Request counts and latencies are this process's own (scrape
 * every API replica); offers, sessions by phase, queue depths and worker liveness are read from
 * Redis when scraped, so they describe the whole deployment.
 */
export class BrokerMetrics {
  readonly registry = new Registry();
  private readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  private readonly httpDuration: Histogram<'method' | 'route'>;
  private readonly negotiation: Histogram<'site' | 'outcome'>;

  constructor(sources: MetricsSources) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry, prefix: 'eb_process_' });
    this.httpRequests = new Counter({ name: 'eb_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['method', 'route', 'status'], registers });
    this.httpDuration = new Histogram({
      name: 'eb_http_request_duration_seconds', help: 'Time to answer an HTTP request, by route', labelNames: ['method', 'route'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
    });
    this.negotiation = new Histogram({
      name: 'eb_negotiation_duration_seconds', help: 'Time for a site to answer a negotiation, by site and outcome (offers, none, timeout, error)', labelNames: ['site', 'outcome'], registers,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 3],
    });

    // Figures kept in Redis by the Lua scripts, read once per scrape for the metrics below.
    let stats: Promise<Record<string, string>> | undefined;
    const readStats = (): Promise<Record<string, string>> => {
      stats ??= sources.redis.hgetall(sources.keys.stats).finally(() => { setImmediate(() => { stats = undefined; }); });
      return stats;
    };
    const count = (values: Record<string, string>, field: string): number => Math.max(0, Number(values[field] ?? 0));
    new Counter({
      name: 'eb_offers_total', help: 'Offers made, accepted and expired, across the deployment', labelNames: ['event'], registers,
      async collect() {
        const values = await readStats();
        this.reset();
        this.inc({ event: 'made' }, count(values, 'offers'));
        this.inc({ event: 'accepted' }, count(values, 'accepted'));
        this.inc({ event: 'expired' }, count(values, 'phase:EXPIRED'));
      },
    });
    if (sources.siteCatalogue) {
      const catalogue = sources.siteCatalogue;
      new Gauge({
        name: 'eb_site_catalogue_up', help: 'Whether the last refresh of the site capabilities catalogue worked (1) or failed (0: the last good catalogue is in use)', registers,
        async collect() {
          const status = await catalogue();
          this.set(status.lastAttempt !== undefined && !status.lastError ? 1 : 0);
        },
      });
      new Gauge({
        name: 'eb_site_catalogue_age_seconds', help: 'How old the site capabilities catalogue in use is (absent before the first good refresh)', registers,
        async collect() {
          this.reset();
          const status = await catalogue();
          if (status.fetchedAt !== undefined) this.set(Math.max(0, (Date.now() - status.fetchedAt) / 1000));
        },
      });
    }
    new Gauge({
      name: 'eb_sessions', help: 'Sessions now in each phase that is not terminal', labelNames: ['phase'], registers,
      async collect() {
        const values = await readStats();
        for (const phase of SESSION_PHASES.filter((p) => !isTerminal(p) && p !== 'INITIAL')) this.set({ phase }, count(values, `phase:${phase}`));
      },
    });
    new Counter({
      name: 'eb_sessions_ended_total', help: 'Sessions that ended, by terminal phase', labelNames: ['phase'], registers,
      async collect() {
        const values = await readStats();
        this.reset();
        for (const phase of SESSION_PHASES.filter(isTerminal)) this.inc({ phase }, count(values, `phase:${phase}`));
      },
    });
    // What ended sessions used, kept in Redis by the step that ended each (lua-scripts.ts CHARGE_HELPER).
    let usage: Promise<Record<string, string>> | undefined;
    const readUsage = (): Promise<Record<string, string>> => {
      usage ??= sources.redis.hgetall(sources.keys.usage).finally(() => { setImmediate(() => { usage = undefined; }); });
      return usage;
    };
    const UNITS: Record<string, string> = { monetary: 'the sites\' currency', energy: 'kWh', carbon: 'gCO2' };
    for (const [by, label] of [['site', 'site'], ['owner', 'user']] as const) {
      new Counter({
        name: `eb_${by === 'site' ? 'site' : 'user'}_session_costs_total`,
        help: `What ended sessions used, by ${label} and cost type (monetary in ${UNITS.monetary}, energy in kWh, carbon in gCO2)`,
        labelNames: [label, 'type'], registers,
        async collect() {
          const values = await readUsage();
          this.reset();
          for (const [field, value] of Object.entries(values)) {
            if (!field.startsWith(`${by}:`)) continue;
            const type = field.slice(field.lastIndexOf(':') + 1);
            if (!(type in UNITS)) continue;
            this.inc({ [label]: field.slice(by.length + 1, field.lastIndexOf(':')), type }, Math.max(0, Number(value)));
          }
        },
      });
    }
    new Gauge({
      name: 'eb_queue_jobs', help: 'Jobs in each BullMQ queue, by state', labelNames: ['queue', 'state'], registers,
      async collect() {
        this.reset();
        for (const [queue, states] of Object.entries(await sources.queueCounts())) {
          for (const [state, jobs] of Object.entries(states)) this.set({ queue, state }, jobs);
        }
      },
    });
    new Gauge({
      name: 'eb_offer_holds_overdue',
      help: `Holds whose offer expired over ${OFFER_EXPIRY_OVERDUE_MS / 1000} s ago and that the offer expiry sweep has not released (above 0 for long: no process runs the timers)`,
      registers,
      async collect() {
        this.set(await sources.redis.zcount(sources.keys.offerExpiry, '-inf', Date.now() - OFFER_EXPIRY_OVERDUE_MS));
      },
    });
    new Gauge({
      name: 'eb_site_workers', help: 'Site workers with a fresh heartbeat, by site (0: the site is down)', labelNames: ['site'], registers,
      async collect() {
        const live = await sources.liveWorkers();
        for (const site of sources.sites) this.set({ site }, live[site] ?? 0);
      },
    });
    new Gauge({
      name: 'eb_redis_subscription_up', help: 'Whether this process is subscribed to each of its Redis channels now (0: reconnecting; live events and negotiation replies are lost meanwhile)', labelNames: ['subscription'], registers,
      collect() {
        for (const [subscription, up] of Object.entries(sources.subscriptions?.() ?? {})) this.set({ subscription }, up ? 1 : 0);
      },
    });
  }

  requestFinished(method: string, route: string, status: number, seconds: number): void {
    this.httpRequests.inc({ method, route, status: String(status) });
    this.httpDuration.observe({ method, route }, seconds);
  }

  negotiated(site: string, outcome: 'offers' | 'none' | 'timeout' | 'error', seconds: number): void {
    this.negotiation.observe({ site, outcome }, seconds);
  }

  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

/** The negotiator, with each site's answer time and outcome recorded in the metrics. */
export function observeNegotiator(negotiator: Negotiator, metrics: Pick<BrokerMetrics, 'negotiated'>): Negotiator {
  return {
    liveSites: (names) => negotiator.liveSites(names),
    notifyAccepted: (site, sessionUuid) => negotiator.notifyAccepted(site, sessionUuid),
    notifyCancelled: (site, sessionUuid) => negotiator.notifyCancelled(site, sessionUuid),
    async negotiate(requests, timeoutMs) {
      const started = performance.now();
      const seconds = (): number => (performance.now() - started) / 1000;
      try {
        const answers = await negotiator.negotiate(requests, timeoutMs);
        answers.forEach((answer, i) => metrics.negotiated(requests[i]?.site ?? '', answer === 'timeout' ? 'timeout' : answer.offers.length ? 'offers' : 'none', seconds()));
        return answers;
      } catch (error) {
        for (const request of requests) metrics.negotiated(request.site, 'error', seconds());
        throw error;
      }
    },
  };
}
