import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import type { Express } from 'express';
import type { Worker } from 'bullmq';
import { AnonymousAuthenticator } from '../auth/anonymous-authenticator.js';
import { BearerAuthenticator } from '../auth/bearer-authenticator.js';
import { OidcIssuer } from '../auth/oidc-issuer.js';
import { ExchangingSiteCredentials } from '../auth/site-credentials.js';
import { TokenCipher } from '../auth/token-cipher.js';
import { BrowserLogin } from '../auth/browser-login.js';
import { RedisLoginStore } from '../store/redis-login-store.js';
import { TokenExchangeClient } from '../auth/token-exchange-client.js';
import { SealedTokenVault } from '../auth/token-vault.js';
import { SealedNotebookTokens } from '../auth/notebook-tokens.js';
import { bindExecutable } from '../broker/bind-executable.js';
import { directExecution } from '../broker/direct-execution.js';
import { provisionSession, queryProvision } from '../broker/provision-session.js';
import { listSessions } from '../broker/list-sessions.js';
import { getOfferSet, getSession, notebookToken } from '../broker/read-records.js';
import { siteTimeline } from '../broker/site-timeline.js';
import { listSiteCatalogue } from '../broker/list-sites.js';
import { watchSessions } from '../broker/watch-sessions.js';
import { requestOffers, type RequestOffersDeps } from '../broker/request-offers.js';
import { listSessionOutputs, sessionOutputFile } from '../broker/session-outputs.js';
import { updateSessionPhase } from '../broker/update-session.js';
import { catalogueSites, refreshSiteCatalogue } from '../broker/refresh-site-catalogue.js';
import { ClientCredentialsToken } from '../auth/client-credentials-token.js';
import { startCatalogueRefresher } from '../queue/catalogue-refresher.js';
import { SiteCapabilitiesClient } from '../sites/site-capabilities-client.js';
import { checkNodes } from '../protocol/srcnet/site-capabilities-schema.js';
import { RedisSiteCatalogue } from '../store/redis-site-catalogue.js';
import { RedisDowntimeHolds } from '../store/redis-downtime-holds.js';
import { downtimeHolds } from '../domain/downtime-holds.js';
import type { SiteDirectory, TokenVault } from '../broker/ports.js';
import type { Clock } from '../domain/clock.js';
import { siteAbilities } from '../domain/executable-abilities.js';
import { droppedLogLine } from '../domain/messages.js';
import type { SiteProfile } from '../domain/site-profile.js';
import { openRedisWarning } from '../config/open-redis-warning.js';
import type { Config } from '../config/load-config.js';
import type { AppOptions, BrokerApi } from '../http/broker-api.js';
import { createApp } from '../http/create-app.js';
import { composeBoundSession, composeOfferedSession, type BoundComponents } from '../protocol/offer-documents.js';
import { BullNegotiator } from '../queue/bull-negotiator.js';
import { BullTimers } from '../queue/bull-timers.js';
import { startNegotiationWorker } from '../queue/negotiation-worker.js';
import { negotiationGroup } from '../queue/queue-names.js';
import { startSiteWorker, type RunningSiteWorker } from '../queue/site-worker.js';
import { economicsReader } from '../config/site-economics-config.js';
import { economicsOf } from '../domain/site-economics.js';
import { startTimerWorker } from '../queue/timer-worker.js';
import { notifyQueueCounts } from '../queue/notify-worker.js';
import type { Executor } from '../broker/executor.js';
import { ApptainerExecutor } from '../sites/apptainer-executor.js';
import { ContainerCliExecutor } from '../sites/container-cli-executor.js';
import { detectContainerRuntime } from '../sites/detect-container-runtime.js';
import { findApptainer, type HostTools } from '../sites/detect-abilities.js';
import { machineEgressPolicy } from '../sites/egress-guard.js';
import { DataManagementLocator } from '../sites/data-management-locator.js';
import { HttpStager, preferredRses } from '../sites/http-stager.js';
import { LocalProcessExecutor } from '../sites/local-process-executor.js';
import { chooseProcessIsolation } from '../sites/process-isolation.js';
import { createSlurmExecutor } from '../sites/slurm-executor.js';
import { outputsDirectoryReader } from '../sites/outputs-directory.js';
import { withOutputQuota } from '../sites/output-quota.js';
import { ScratchDirectories } from '../sites/session-directory.js';
import { openRedisConnections, whenReady } from './redis-connections.js';
import { startNotifyRuntime } from './notify-runtime.js';
import { sharedNotifyKey } from '../store/redis-notify-outbox.js';
import { notifyGate } from '../sites/notify-gate.js';
import { RedisBrokerStore } from '../store/redis-broker-store.js';
import { RedisCapacityLedger } from '../store/redis-capacity-ledger.js';
import { migrateBinaryCalendars } from '../store/migrate-calendars.js';
import { redisKeys } from '../store/redis-keys.js';
import { RedisNotebookTokens, RedisSealedTokens } from '../store/redis-sealed-tokens.js';
import { SUBSCRIBER_OPTIONS } from '../store/channel-subscription.js';
import { RedisSessionEvents } from '../store/redis-session-events.js';
import { silentLogger, type Logger } from '../observability/logger.js';
import { BrokerMetrics, observeNegotiator } from '../observability/metrics.js';

export const systemClock: Clock = { now: () => Date.now() };

/** How long start-up waits for Redis before it gives up and says so. */
const STARTUP_WAIT_MS = 10_000;

export interface RuntimeParts {
  /** Extra routes for the HTTP app (used by the benchmark for its baseline). */
  extraRoutes?: import('express').Router;
  /** Serve the HTTP API (the app is returned; the caller listens). */
  api?: boolean;
  /** Run a worker for these sites (all configured sites when true). */
  siteWorkers?: boolean | string[];
  /** Run the timers (offer expiry). */
  timers?: boolean;
  /** Deliver notifications (webhooks, mail) from the outbox. */
  notify?: boolean;
  /** Where site workers look for apptainer and Jupyter (default: the process's PATH); tests run a host without them. */
  hostTools?: HostTools;
}

export interface BrokerRuntime {
  app?: Express;
  api?: BrokerApi;
  config: Config;
  /** The process begins to stop: event streams end now (requests in flight may still finish). */
  beginShutdown(): void;
  close(): Promise<void>;
}

/** The built web page: dist/web of the package, whether this module runs from dist/ or src/ (tests). */
const WEB_ROOT = fileURLToPath(new URL('../../dist/web', import.meta.url));

/** The user's token exchanged at the issuer for another audience (the Data Management API's). */
function exchangeAt(issuer: OidcIssuer): ConstructorParameters<typeof DataManagementLocator>[1] {
  const client = new TokenExchangeClient(issuer);
  return (token, target) => client.exchange(token, target);
}

function siteDirectory(sites: readonly SiteProfile[]): SiteDirectory {
  const byName = new Map(sites.map((site) => [site.name, site]));
  return { all: () => sites, get: (name) => byName.get(name) };
}

/**
 * Composition root: builds the Redis clients, the store, the queues and whichever parts this
 * process runs. Every entry point (all-in-one, api, worker) and the tests come through here.
 */
export async function startBrokerRuntime(config: Config, parts: RuntimeParts, clock: Clock = systemClock, logger: Logger = silentLogger()): Promise<BrokerRuntime> {
  const log = (line: string): void => logger.info(line);
  const keys = redisKeys(config.keyPrefix);
  // BullMQ's workers want connections that retry forever; the store's and the producer's (adding
  // jobs) fail fast so that HTTP answers 503 (redis-connections.ts). Adding jobs has its own
  // connection, so that a worker's blocking reads never delay it. No auto-pipelining: measured, it
  // made every request slower here (docs/architecture.md).
  const timeouts = { commandTimeoutMs: config.redisCommandTimeoutMs };
  const { queue: queueConnection, producer: producerConnection, store: storeConnection } = openRedisConnections(config.redisUrl, timeouts);
  const connections = [queueConnection, producerConnection, storeConnection];
  const closers: Array<() => Promise<unknown>> = [];
  const store = new RedisBrokerStore(storeConnection, keys, { retentionMs: config.retentionMs });
  const sites = siteDirectory(config.sites);
  const catalogue = config.siteCapabilities ? new RedisSiteCatalogue(storeConnection, keys) : undefined;
  const now = () => clock.now();
  // One issuer per process: its discovery and JWKS are shared by the API and the site workers.
  const issuer = config.auth.oidc ? new OidcIssuer(config.auth.oidc) : undefined;
  const cipher = new TokenCipher(config.auth.tokenKey);
  const vault: TokenVault = new SealedTokenVault(cipher, new RedisSealedTokens(storeConnection, keys));
  const notebookTokens = new SealedNotebookTokens(cipher, new RedisNotebookTokens(storeConnection, keys));
  const shutdown = new AbortController();
  const beginShutdown = (): void => shutdown.abort();
  let runtime: BrokerRuntime = { config, beginShutdown, close: async () => undefined };
  try {
    // Neither fail-fast connection queues commands while it connects: wait until both are ready.
    await Promise.all([storeConnection, producerConnection].map((connection) => whenReady(connection, STARTUP_WAIT_MS)));
    await storeConnection.ping();
    const converted = await migrateBinaryCalendars(storeConnection, keys);
    if (converted > 0) log(`converted ${converted} calendar block(s) from the binary layout to wide nodes`);
    // Webhook secrets are sealed with TOKEN_KEY when every process shares one, else with a key kept in Redis.
    const notifyCipher = config.auth.tokenKeyGiven || !(parts.api || parts.notify) ? cipher : new TokenCipher(await sharedNotifyKey(storeConnection, keys));
    if (parts.timers) {
      const timerWorker = await startTimerWorker({ connection: queueConnection, producer: producerConnection, keys, store, now });
      closers.push(() => timerWorker.close());
    }
    if (parts.notify) {
      const notify = await startNotifyRuntime({ config, connection: queueConnection, producer: producerConnection, store: storeConnection, keys, brokerStore: store, cipher: notifyCipher, now, logger });
      closers.push(() => notify.close());
    }
    if (parts.timers && config.siteCapabilities && catalogue) {
      const settings = config.siteCapabilities;
      const credentials = issuer && config.auth.oidc?.client ? new ClientCredentialsToken(issuer, { audience: settings.audience, scope: settings.scope }) : undefined;
      const client = new SiteCapabilitiesClient(settings.url, { check: checkNodes, ...(credentials ? { token: () => credentials.token() } : {}) });
      const downtimes = new RedisDowntimeHolds(storeConnection, keys);
      // A declared downtime is capacity held: the site's whole calendar over it (domain/downtime-holds.ts).
      const holdDowntimes = async (catalogued: import('../domain/site-catalogue.js').SiteCatalogue): Promise<void> => {
        for (const site of config.sites.filter((s) => s.siteCapabilities)) {
          await downtimes.sync(site.name, downtimeHolds(catalogued.sites[site.name], site, clock.now()));
        }
      };
      const refresher = await startCatalogueRefresher({
        connection: queueConnection, producer: producerConnection, keys, everyMs: settings.refreshMs,
        refresh: () => refreshSiteCatalogue({
          fetchNodes: () => client.nodes(), store: catalogue, sites: config.sites, clock,
          log: (level, message, fields) => logger[level]({ ...fields, url: settings.url }, message),
          apply: holdDowntimes,
        }),
      });
      closers.push(() => refresher.close());
    }
    if (parts.siteWorkers) {
      const names = parts.siteWorkers === true ? config.sites.map((s) => s.name) : parts.siteWorkers;
      const ledger = new RedisCapacityLedger(storeConnection, keys);
      const readEconomics = economicsReader();
      // One negotiation job per process for all the sites it serves that are asked (negotiation-worker.ts).
      const group = negotiationGroup(names);
      const answers = new Map<string, RunningSiteWorker['negotiate']>();
      for (const name of names) {
        const site = sites.get(name);
        if (!site) throw new Error(`no site named ${name} in the configuration`);
        const executor = withOutputQuota(await executorFor(site, log, parts.hostTools ?? {}), site.limits.outputBytes);
        const openRedis = openRedisWarning(site, 'sharesHostNetwork' in executor && executor.sharesHostNetwork === true, config.redisUrl);
        if (openRedis) log(openRedis);
        const stager = new HttpStager(site.scratchDir, {
          fileRoots: site.fileRoots, egress: machineEgressPolicy(site.egressAllow ?? [], config), prefer: preferredRses(site.storageElements),
          s3: site.s3 ?? [], ...(site.stagingStallMs !== undefined ? { stallMs: site.stagingStallMs } : {}),
        });
        const credentials = site.tokenExchange && issuer
          ? { source: new ExchangingSiteCredentials(vault, new TokenExchangeClient(issuer), site.tokenExchange), hosts: site.tokenExchange.hosts }
          : undefined;
        const running: RunningSiteWorker = await startSiteWorker({ connection: queueConnection, producer: producerConnection, keys, site, ledger, store, executor, stager, credentials, notebookTokens, now, logger,
          reconcileIntervalMs: config.reconcileIntervalMs, directories: new ScratchDirectories(site.scratchDir),
          economics: (profile) => readEconomics(profile) ?? economicsOf(profile), group });
        closers.push(() => running.close());
        answers.set(name, running.negotiate);
      }
      const negotiation = await startNegotiationWorker({ connection: queueConnection, producer: producerConnection, keys, group, sites: answers, now, logger });
      closers.push(() => negotiation.close());
    }
    if (parts.api) {
      const subscriptionLog = (level: 'info' | 'warn', message: string): void => logger[level](message);
      const negotiator = new BullNegotiator({ producer: producerConnection, events: queueConnection, store: storeConnection }, keys, now, { log: subscriptionLog });
      const timers = new BullTimers(producerConnection, keys, now);
      closers.push(() => timers.close());
      const notifyQueue = notifyQueueCounts(producerConnection, keys);
      closers.push(() => notifyQueue.close());
      await negotiator.start(config.sites.map((s) => s.name));
      closers.push(() => negotiator.close());
      // One subscribing connection per API process, for every event stream it serves.
      const events = new RedisSessionEvents(new Redis(config.redisUrl, { ...SUBSCRIBER_OPTIONS, connectionName: `eb-events-${config.keyPrefix}` }), keys, { log: subscriptionLog });
      closers.push(() => events.close());
      const siteNames = config.sites.map((s) => s.name);
      const metrics = new BrokerMetrics({
        subscriptions: () => ({ 'session-events': events.up, 'negotiation-replies': negotiator.repliesUp }),
        redis: storeConnection, keys, sites: siteNames,
        queueCounts: async () => ({ ...(await negotiator.jobCounts()), ...(await timers.jobCounts()), ...(await notifyQueue.jobCounts()) }),
        liveWorkers: () => negotiator.workerCounts(siteNames),
        ...(catalogue ? { siteCatalogue: () => catalogue.status() } : {}),
      });
      const newId = () => randomUUID();
      const capacityOutlook = new RedisCapacityLedger(storeConnection, keys);
      const notify = notifyGate({ policy: machineEgressPolicy(config.notify.egressAllow, config), mail: Boolean(config.notify.mail), cipher: notifyCipher, expiringBeforeMs: config.notify.expiringBeforeMs });
      const offersDeps: RequestOffersDeps = {
        clock, newId, sites, negotiator: observeNegotiator(negotiator, metrics), store, timers, notify,
        composeSession: (input) => composeOfferedSession(input, newId),
        settings: { maxOffers: config.maxOffers, offerLifetimeMs: config.offerLifetimeMs, negotiationTimeoutMs: config.negotiationTimeoutMs },
        ...(config.dataManagement ? { locator: new DataManagementLocator(config.dataManagement, issuer ? exchangeAt(issuer) : undefined, config) } : {}),
        ...(catalogue ? { currentSites: () => catalogueSites(catalogue, sites) } : {}),
      };
      const outputsDeps = { clock, store, sites, reader: outputsDirectoryReader };
      const updateDeps = { clock, store, negotiator, userTokens: { vault, neededBy: (site: string) => Boolean(sites.get(site)?.tokenExchange) } };
      const api: BrokerApi = {
        requestOffers: (input) => requestOffers(offersDeps, input),
        directExecution: (input, principal) => directExecution({ ...offersDeps, ...updateDeps }, input, principal),
        getOfferSet: (uuid, principal) => getOfferSet({ clock, store }, uuid, principal),
        getSession: (uuid, principal) => getSession({ clock, store }, uuid, principal),
        notebookToken: (session, principal) => notebookToken({ tokens: notebookTokens }, session, principal),
        updateSessionPhase: (uuid, target, principal) => updateSessionPhase(updateDeps, uuid, target, principal),
        queryProvision: (input) => queryProvision(offersDeps, input, config.provisionLifetimeMs),
        provision: (input) => provisionSession(offersDeps, input, config.provisionLifetimeMs),
        bindExecutable: (uuid, principal, binding) => bindExecutable({
          clock, store, sites, negotiator, userTokens: updateDeps.userTokens, notify,
          workerAbilities: async (name) => (await negotiator.workerAbilities([name])).get(name) ?? [],
          composeBound: (document, components, plan, at) => composeBoundSession(document, components as BoundComponents, plan, at, newId),
        }, uuid, principal, binding),
        getSessionLog: async (uuid, principal) => {
          await getSession({ clock, store }, uuid, principal); // 404 for an unknown session, or someone else's
          const { bytes, skipped } = await store.readLog(uuid, 0);
          return `${skipped > 0 ? droppedLogLine(skipped) : ''}${bytes.toString('utf8')}`;
        },
        readSessionLog: async (uuid, from, principal) => {
          // The phase first: a terminal phase read before the log means the log is complete.
          const { phase } = await getSession({ clock, store }, uuid, principal);
          return { ...(await store.readLog(uuid, from)), phase };
        },
        listSessionOutputs: (uuid, principal) => listSessionOutputs(outputsDeps, uuid, principal),
        sessionOutputFile: (uuid, segments, principal) => sessionOutputFile(outputsDeps, uuid, segments, principal),
        listSessions: (query, principal) => listSessions({ clock, store }, query, principal),
        listSites: async (_principal, query) => {
          const [live, published, executors] = await Promise.all([negotiator.liveSites(siteNames), negotiator.workerAbilities(siteNames), negotiator.workerExecutors(siteNames)]);
          const current = catalogue ? (await catalogueSites(catalogue, sites)).all() : config.sites;
          const listed = current.map((site) => ({
            site, online: live.has(site.name), abilities: siteAbilities(site.executableKinds, published.get(site.name) ?? [], site.name),
            ...(executors.get(site.name)?.length ? { executors: executors.get(site.name) } : {}),
          }));
          return query ? listSiteCatalogue({ clock, outlook: capacityOutlook }, listed, query) : listed;
        },
        siteTimeline: (site, window, principal) => siteTimeline({ clock, store, sites }, site, window, principal),
        watchSessions: (principal, listener) => watchSessions(events, principal, listener),
        ...(catalogue ? { siteCatalogueStatus: () => catalogue.status() } : {}),
        availability: async () => {
          if (!(await store.ping())) return { available: false, note: 'The broker cannot reach its Redis store' };
          const live = await negotiator.liveSites(config.sites.map((s) => s.name));
          if (live.size === 0) return { available: false, note: 'No site has a running worker' };
          return { available: true, note: `Sites with running workers: ${[...live].sort().join(', ')}` };
        },
      };
      const app = createApp(api, {
        publicUrl: config.publicUrl,
        bodyLimitBytes: config.bodyLimitBytes,
        authenticator: issuer ? new BearerAuthenticator(issuer) : new AnonymousAuthenticator(),
        ...(issuer ? { issuer: issuer.settings.issuer } : {}),
        ...(issuer && config.auth.login
          ? { login: new BrowserLogin(issuer, new TokenCipher(config.auth.tokenKey), new RedisLoginStore(storeConnection, keys), config.auth.login) } : {}),
        extraRoutes: parts.extraRoutes,
        logError: (error, context) => logger.error({ ...context, error: String((error as Error)?.stack ?? error) }, 'request failed'),
        logger,
        metrics,
        ...(config.metricsToken ? { metricsToken: config.metricsToken } : {}),
        webRoot: WEB_ROOT,
        shutdown: shutdown.signal,
      });
      runtime = { ...runtime, app, api };
    }
  } catch (error) {
    await closeAll(closers, connections);
    throw error;
  }
  return { ...runtime, close: () => { beginShutdown(); return closeAll(closers, connections); } };
}

/**
 * The executor a site's configuration asks for. A Slurm site whose host has no sbatch still has a
 * worker, which answers NO to every request saying why (and fails a session accepted before, the
 * same way). `auto` is probed once per process.
 */
async function executorFor(site: SiteProfile, log: (line: string) => void, tools: HostTools): Promise<Executor | { unavailable: string }> {
  if (site.executor.type === 'slurm') {
    const executor = createSlurmExecutor(site.scratchDir, site.executor, { logBytes: site.limits.logBytes, site: site.name, tools });
    log(`site ${site.name}: ${'unavailable' in executor ? `cannot run sessions: ${executor.unavailable}` : `sessions run as Slurm batch jobs, in ${site.scratchDir} (which the compute nodes must share)`}`);
    return executor;
  }
  const asked = site.executor.containerRuntime ?? 'auto';
  const runtime = asked === 'auto' ? await detectContainerRuntime() : asked;
  const found = asked === 'auto' ? ' (containerRuntime: auto)' : '';
  const publicHost = site.publicHost ?? '127.0.0.1';
  const gpuDevices = site.executor.gpuDevices ?? {};
  const processesPerRun = site.processRuns.processesPerRun;
  const jupyterImage = site.executor.jupyterImage ? { jupyterImage: site.executor.jupyterImage } : {};
  if (runtime === 'docker' || runtime === 'podman') {
    log(`site ${site.name}: sessions run in ${runtime} containers${found}, in ${site.scratchDir}`);
    return new ContainerCliExecutor({ runtime, scratchRoot: site.scratchDir, site: site.name, publicHost, gpuDevices, processesPerRun, logBytes: site.limits.logBytes, ...jupyterImage });
  }
  // apptainer as found on the host's PATH (or singularity), so that what is detected is what runs.
  const apptainer = await findApptainer(tools);
  const apptainerOptions = { scratchRoot: site.scratchDir, publicHost, gpuDevices, logBytes: site.limits.logBytes, site: site.name, tools, ...(apptainer ? { program: apptainer } : {}) };
  if (runtime === 'apptainer') {
    log(`site ${site.name}: sessions run in apptainer containers, in ${site.scratchDir}`);
    if (!apptainer) log(`site ${site.name}: WARNING: neither apptainer nor singularity answers on this host: the site offers nothing`);
    return new ApptainerExecutor({ ...apptainerOptions, ...jupyterImage });
  }
  return processExecutor(site, found, log, tools, apptainer ? new ApptainerExecutor(apptainerOptions) : undefined);
}

/**
 * A site's runs as processes of this host: in a bubblewrap sandbox, unless the site says
 * `isolation: none` (or `auto` and no sandbox works here), which is said loudly
 * (process-isolation.ts).
 */
async function processExecutor(site: SiteProfile, found: string, log: (line: string) => void, tools: HostTools, singularity: Executor | undefined): Promise<Executor | { unavailable: string }> {
  const settings = site.processRuns;
  const options = {
    publicHost: site.publicHost ?? '127.0.0.1', gpuDevices: site.executor.type === 'local' ? site.executor.gpuDevices ?? {} : {}, logBytes: site.limits.logBytes,
    site: site.name, tools, ...(singularity ? { singularity } : {}),
  };
  const images = site.executor.type === 'local' ? site.executor.developmentImages : undefined;
  const isolation = await chooseProcessIsolation(settings);
  if (isolation.kind === 'sandbox') {
    if (isolation.warning) log(`site ${site.name}: WARNING: ${isolation.warning}`);
    log(`site ${site.name}: sessions run as processes in a bubblewrap sandbox${found} (network: ${isolation.network}, at most ${settings.processesPerRun} processes a run), in ${site.scratchDir}`);
    // The broker's own configuration files, wherever they are, are none of a run's business.
    const hidden = Object.entries(process.env).filter(([name, value]) => /^(BROKER_CONFIG|[A-Z0-9_]+_FILE)$/.test(name) && value?.startsWith('/')).map(([, value]) => value as string);
    const sandbox = { network: isolation.network, processesPerRun: settings.processesPerRun, uid: settings.runUid, hidden };
    return new LocalProcessExecutor(site.scratchDir, images, { ...options, sandbox });
  }
  if (isolation.kind === 'unavailable') {
    log(`site ${site.name}: CANNOT RUN SESSIONS: isolation: sandbox, and ${isolation.problem}`);
    return { unavailable: `the site runs sessions in a sandbox, and ${isolation.problem}` };
  }
  log(`site ${site.name}: WARNING: sessions run as plain processes WITHOUT ISOLATION (development only: a run can read the worker's secrets and every session's files; ${isolation.problem})${found}, in ${site.scratchDir}`);
  return new LocalProcessExecutor(site.scratchDir, images, options);
}

async function closeAll(closers: Array<() => Promise<unknown>>, connections: Redis[]): Promise<void> {
  for (const close of closers.reverse()) await close().catch(() => undefined);
  for (const connection of connections) await connection.quit().catch(() => connection.disconnect());
}
