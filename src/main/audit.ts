// `node dist/main/audit.js`: recomputes every site's usage from the holds and checks it against
// the sites' sizes, the sessions and the calendars, and names the sessions that are stuck (past
// their schedule by more than AUDIT_GRACE, default PT1M). Prints the report; exits 1 when anything is off.
import { Redis } from 'ioredis';
import { ConfigError, durationMs, loadConfig } from '../config/load-config.js';
import { auditLedger } from '../store/audit-ledger.js';
import { stuckSessions } from '../store/audit-sessions.js';
import { redisKeys } from '../store/redis-keys.js';

try {
  const config = loadConfig();
  const graceMs = durationMs(process.env.AUDIT_GRACE, 'PT1M', 'AUDIT_GRACE');
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const keys = redisKeys(config.keyPrefix);
  const now = Date.now();
  const report = { ...(await auditLedger(redis, keys, config.sites, now)), stuckSessions: await stuckSessions(redis, keys, now, graceMs) };
  await redis.quit();
  console.log(JSON.stringify(report, null, 2));
  const problems = report.overbookings.length + report.leakedHolds.length + report.missingHolds.length + report.calendarMismatches.length + report.shareMismatches.length + report.stuckSessions.length;
  process.exit(problems ? 1 : 0);
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration refused: ${error.message}` : error);
  process.exit(2);
}
