// `npm start`: the API, a worker for every configured site (the built-in demo site by default)
// and the timers, in one process.
import { runProcess } from './run-process.js';

await runProcess('all-in-one', { api: true, siteWorkers: true, timers: true, notify: true });
