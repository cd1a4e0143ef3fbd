// The HTTP API alone; run site workers and timers elsewhere against the same Redis.
import { runProcess } from './run-process.js';

await runProcess('api', { api: true });
