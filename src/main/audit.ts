// `node dist/main/audit.js`: recomputes every site's usage from the holds and checks it against
// the sites' sizes, the sessions and the calendars. Prints the report; exits 1 when anything is off.
import { Redis } from 'ioredis';
import { ConfigError, loadConfig } from '../config/load-config.js';
import { auditLedger } from '../store/audit-ledger.js';
import { redisKeys } from '../store/redis-keys.js';

try {
  const config = loadConfig();
  const redis = new Redis(config.redisUrl, { maxRetriesPerRequest: 2 });
  const report = await auditLedger(redis, redisKeys(config.keyPrefix), config.sites, Date.now());
  await redis.quit();
  console.log(JSON.stringify(report, null, 2));
  const problems = report.overbookings.length + report.leakedHolds.length + report.missingHolds.length + report.calendarMismatches.length + report.shareMismatches.length;
  process.exit(problems ? 1 : 0);
} catch (error) {
  console.error(error instanceof ConfigError ? `Configuration refused: ${error.message}` : error);
  process.exit(2);
}
