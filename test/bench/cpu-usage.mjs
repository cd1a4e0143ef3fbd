// CPU used so far by a process (from /proc) and by a Redis server (INFO cpu), in ms; NaN when it
// cannot be read. Shared by run.mjs and site-cost.mjs.
import { readFileSync } from 'node:fs';

const CLOCK_TICKS = 100; // USER_HZ on Linux
export function processCpuMs(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS; // utime + stime
  } catch {
    return NaN;
  }
}

export async function redisCpuMs(redis) {
  try {
    const info = await redis.info('cpu');
    const field = (name) => Number((info.match(new RegExp(`^${name}:([0-9.]+)`, 'm')) ?? [])[1]);
    return (field('used_cpu_user') + field('used_cpu_sys')) * 1000;
  } catch {
    return NaN;
  }
}
