import type { Server } from 'node:http';
import { ConfigError, loadConfig, redactedUrl, type Config } from '../config/load-config.js';
import { anonymousExposure } from '../config/load-auth-config.js';
import { ensureLocalRedis, type PrivateRedis } from './redis-bootstrap.js';
import { startBrokerRuntime, type RuntimeParts } from './broker-runtime.js';
import { createLogger } from '../observability/logger.js';
import { createHttpServer, listen, listenFailure } from '../http/http-server.js';


const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Shared start-up of the entry points: config, Redis, the chosen parts, signals. */
export async function runProcess(title: string, parts: RuntimeParts): Promise<void> {
  // Structured JSON logs on stdout, one object per line (pino); LOG_LEVEL=debug shows every step.
  const logger = createLogger(title);
  const log = (line: string): void => logger.info(line);
  const refuse = (message: string): never => {
    logger.fatal(`Configuration refused: ${message}`);
    process.exit(2);
  };
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) refuse(error.message);
    throw error;
  }
  if (parts.api) {
    const exposure = anonymousExposure(config.auth, config.host);
    if (exposure) refuse(exposure);
    const oidc = config.auth.oidc;
    log(oidc
      ? `Bearer tokens from ${oidc.issuer} for audience ${oidc.audience}${oidc.requiredScopes.length ? `, scopes ${oidc.requiredScopes.join(' ')}` : ''}${oidc.operatorGroup ? `, operators in ${oidc.operatorGroup}` : ''}`
      : 'Running WITHOUT authentication (no OIDC_ISSUER): every request is anonymous and sees everything.');
  }
  let privateRedis: PrivateRedis | undefined;
  if (!config.redisUrlGiven) {
    privateRedis = await ensureLocalRedis(log);
    if (!privateRedis) process.exit(1);
    config = { ...config, redisUrl: privateRedis.url };
  }
  const runtime = await startBrokerRuntime(config, parts, undefined, logger).catch((error: Error) => {
    logger.fatal(`Cannot start: ${error.message} (Redis at ${redactedUrl(config.redisUrl)})`);
    privateRedis?.stop();
    process.exit(1);
  });
  // Signals are handled from here on, so that a SIGTERM while the server starts still stops it cleanly.
  let listening: Promise<Server | undefined> = Promise.resolve(undefined);
  let stopping = false;
  // SIGTERM: stop taking connections, let the requests in flight finish (they may need the
  // workers and queues, so those close after), let each worker finish the step it is on, close
  // the queues, exit 0. Event streams end at once; requests still open after SHUTDOWN_GRACE (a
  // followed log, say) are cut.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${title}: ${signal} received, stopping (draining HTTP, finishing current steps)`);
    const watchdog = setTimeout(() => {
      log(`${title}: still stopping after ${(config.shutdownGraceMs * 2) / 1000} s, exiting anyway`);
      process.exit(1);
    }, config.shutdownGraceMs * 2);
    watchdog.unref();
    const server = await listening;
    if (server) {
      const draining = new Promise<void>((done) => server.close(() => done()));
      // Event streams are hints a client reads again elsewhere: they end now rather than hold the drain.
      runtime.beginShutdown();
      server.closeIdleConnections();
      const cut = setTimeout(() => server.closeAllConnections(), config.shutdownGraceMs);
      await draining;
      clearTimeout(cut);
    }
    await runtime.close();
    privateRedis?.stop();
    log(`${title}: stopped`);
    process.exit(0);
  };
  process.on('SIGTERM', () => { void stop('SIGTERM'); });
  process.on('SIGINT', () => { void stop('SIGINT'); });
  if (runtime.app) {
    if (!LOOPBACK.test(config.host)) log(`Listening on ${config.host}, beyond loopback.`);
    const server = createHttpServer(runtime.app, config);
    listening = listen(server, config.port, config.host).catch(async (error: NodeJS.ErrnoException) => {
      // Express 5 hands a listen error to the callback, where it was lost: the process stayed up
      // serving nothing. Say which port and what to change, and exit non-zero at once.
      logger.fatal(listenFailure(error, config.port, config.host));
      await Promise.race([runtime.close(), new Promise((done) => setTimeout(done, 2_000).unref())]);
      privateRedis?.stop();
      process.exit(1);
    });
    const address = (await listening)?.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log(`${title}: ExecutionBroker listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port} (sites: ${config.sites.map((s) => s.name).join(', ')})`);
  } else {
    log(`${title}: running ${parts.siteWorkers ? 'site workers' : ''}${parts.timers ? ' and timers' : ''} against ${redactedUrl(config.redisUrl)}`);
  }
}
