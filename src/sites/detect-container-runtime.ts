import { execFile } from 'node:child_process';
import { cliEnvironment } from './container-cli-executor.js';

export type DetectedRuntime = 'docker' | 'podman' | 'none';

/** `<program> info` answers within the time allowed: a client that reaches a working engine. */
function answers(program: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    execFile(program, ['info'], { env: cliEnvironment(), timeout: timeoutMs }, (error) => resolve(!error));
  });
}

/**
 * `containerRuntime: auto`: docker when `docker info` works, else podman when `podman info`
 * works, else none. (A docker client without an engine, common on CI machines, does not count.)
 */
export async function probeContainerRuntime(programs: { docker?: string; podman?: string } = {}, timeoutMs = 5_000): Promise<DetectedRuntime> {
  if (await answers(programs.docker ?? 'docker', timeoutMs)) return 'docker';
  if (await answers(programs.podman ?? 'podman', timeoutMs)) return 'podman';
  return 'none';
}

let detected: Promise<DetectedRuntime> | undefined;

/** The runtime `auto` stands for on this machine, probed once per process. */
export function detectContainerRuntime(): Promise<DetectedRuntime> {
  detected ??= probeContainerRuntime();
  return detected;
}
