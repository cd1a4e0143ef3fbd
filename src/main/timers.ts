// The timers alone (offer expiry and other delayed broker work): one or more per deployment, beside
// the API processes and the site workers, all against the same Redis.
import { runProcess } from './run-process.js';

await runProcess('timers', { timers: true });
