// `npm run worker`: site workers and timers. SITES=a,b limits it to some of the configured sites.
import { runProcess } from './run-process.js';

const only = process.env.SITES?.split(',').map((name) => name.trim()).filter(Boolean);
await runProcess('worker', { siteWorkers: only?.length ? only : true, timers: true, notify: true });
