import type { Server } from 'node:http';
import { ConfigError, loadConfig, type Config } from '../config/load-config.js';
import { ensureLocalRedis, type PrivateRedis } from './redis-bootstrap.js';
import { startBrokerRuntime, type RuntimeParts } from './broker-runtime.js';
import { createLogger } from '../observability/logger.js';


const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

/** Shared start-up of the entry points: config, Redis, the chosen parts, signals. */
export async function runProcess(title: string, parts: RuntimeParts): Promise<void> {
  // Structured JSON logs on stdout, one object per line (pino); LOG_LEVEL=debug shows every step.
  const logger = createLogger(title);
  const log = (line: string): void => logger.info(line);
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      logger.fatal(`Configuration refused: ${error.message}`);
      process.exit(2);
    }
    throw error;
  }
  let privateRedis: PrivateRedis | undefined;
  if (!config.redisUrlGiven) {
    privateRedis = await ensureLocalRedis(log);
    if (!privateRedis) process.exit(1);
    config = { ...config, redisUrl: privateRedis.url };
  }
  const runtime = await startBrokerRuntime(config, parts, undefined, logger).catch((error: Error) => {
    logger.fatal(`Cannot start: ${error.message} (Redis at ${config.redisUrl.replace(/\/\/[^@]*@/, '//***@')})`);
    privateRedis?.stop();
    process.exit(1);
  });
  let server: Server | undefined;
  if (runtime.app) {
    if (!LOOPBACK.test(config.host)) log(`Listening on ${config.host}, beyond loopback.`);
    const app = runtime.app;
    server = await new Promise<Server>((ready) => {
      const listening = app.listen(config.port, config.host, () => ready(listening));
    });
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    log(`${title}: ExecutionBroker listening on http://${config.host.includes(':') ? `[${config.host}]` : config.host}:${port} (sites: ${config.sites.map((s) => s.name).join(', ')})`);
  } else {
    log(`${title}: running ${parts.siteWorkers ? 'site workers' : ''}${parts.timers ? ' and timers' : ''} against ${config.redisUrl.replace(/\/\/[^@]*@/, '//***@')}`);
  }
  let stopping = false;
  // SIGTERM: stop taking connections, let the requests in flight finish (they may need the
  // workers and queues, so those close after), let each worker finish the step it is on, close
  // the queues, exit 0. Requests still open after SHUTDOWN_GRACE (a followed log, say) are cut.
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    log(`${title}: ${signal} received, stopping (draining HTTP, finishing current steps)`);
    const watchdog = setTimeout(() => {
      log(`${title}: still stopping after ${(config.shutdownGraceMs * 2) / 1000} s, exiting anyway`);
      process.exit(1);
    }, config.shutdownGraceMs * 2);
    watchdog.unref();
    if (server) {
      const draining = new Promise<void>((done) => server!.close(() => done()));
      server.closeIdleConnections();
      const cut = setTimeout(() => server!.closeAllConnections(), config.shutdownGraceMs);
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
}
