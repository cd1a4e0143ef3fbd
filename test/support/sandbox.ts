import { execFileSync } from 'node:child_process';
import { probeSandbox } from '../../src/sites/sandbox.js';

/**
 * Whether runs can be sandboxed here (bubblewrap works). When they cannot, the sandbox tests are
 * skipped with a loud message, unless EB_REQUIRE_SANDBOX=1 (CI), which makes it a failure.
 */
export async function sandboxForTests(what: string, network: 'none' | 'egress' = 'none'): Promise<boolean> {
  const why = await probeSandbox(undefined, network);
  if (!why) return true;
  if (process.env.EB_REQUIRE_SANDBOX === '1') throw new Error(`EB_REQUIRE_SANDBOX=1 but ${why}`);
  console.warn(`\n${'!'.repeat(78)}\n!! SKIPPED: ${what}\n!! because ${why}.\n!! Set EB_REQUIRE_SANDBOX=1 to make this a failure.\n${'!'.repeat(78)}\n`);
  return false;
}

/** The command lines of the host's processes that match `pattern` (the whole process table, by ps). */
export function processesMatching(pattern: RegExp): string[] {
  return execFileSync('ps', ['-eo', 'args=']).toString().split('\n').map((line) => line.trim()).filter((line) => pattern.test(line));
}

/** Waits up to `ms` for no process to match `pattern`; returns those still there. */
export async function goneWithin(pattern: RegExp, ms: number): Promise<string[]> {
  const end = Date.now() + ms;
  let left = processesMatching(pattern);
  while (left.length && Date.now() < end) {
    await new Promise((r) => setTimeout(r, 50));
    left = processesMatching(pattern);
  }
  return left;
}
