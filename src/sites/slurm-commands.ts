import { execFile } from 'node:child_process';
import { accessSync, constants } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The Slurm client programs the executor runs; each a name looked up on PATH or a path. */
export interface SlurmCommandPaths {
  sbatch?: string;
  squeue?: string;
  sacct?: string;
  scancel?: string;
}

/** What Slurm says of a job: its state (PENDING, RUNNING, COMPLETED, ...) and, once ended, its exit code. */
export interface SlurmJob {
  state: string;
  exitCode?: number;
}

const TIMEOUT_MS = 60_000;
/** squeue's and sacct's answer for a job id they do not know. */
const UNKNOWN_JOB = /Invalid job id/i;
/** sacct on a cluster without accounting storage. */
const NO_ACCOUNTING = /accounting storage is disabled/i;

/**
 * The Slurm command-line clients, run with execFile and argument arrays (never a shell) and with
 * an environment of their own: PATH and SLURM_CONF only, never the worker's, which holds secrets
 * (and whose SLURM_* variables sbatch would hand on to the job).
 */
export class SlurmCommands {
  private readonly env: NodeJS.ProcessEnv;

  constructor(private readonly paths: SlurmCommandPaths = {}, slurmConf: string | undefined = process.env.SLURM_CONF) {
    this.env = { PATH: process.env.PATH || '/usr/local/bin:/usr/bin:/bin', ...(slurmConf ? { SLURM_CONF: slurmConf } : {}) };
  }

  private run(name: keyof SlurmCommandPaths, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      execFile(this.paths[name] ?? name, args, { env: this.env, timeout: TIMEOUT_MS, killSignal: 'SIGKILL', maxBuffer: 1024 * 1024 }, (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr).trim() || (error?.message ?? '') });
      });
    });
  }

  /** Submits a batch job; its id. */
  async sbatch(args: string[]): Promise<string> {
    const { code, stdout, stderr } = await this.run('sbatch', ['--parsable', ...args]);
    const id = stdout.trim().split(';')[0] ?? '';
    if (code !== 0 || !/^\d+$/.test(id)) throw new Error(`sbatch failed: ${stderr || stdout.trim() || `exit status ${code}`}`);
    return id;
  }

  /**
   * The job as slurmctld knows it (jobs that ended stay known for MinJobAge, 300 s by default), or
   * undefined when it does not know the id. Throws when slurmctld does not answer.
   */
  async squeue(id: string): Promise<SlurmJob | undefined> {
    const { code, stdout, stderr } = await this.run('squeue', ['--noheader', '--states=all', `--jobs=${id}`, '--Format=State:40,exit_code:20']);
    if (code !== 0 && UNKNOWN_JOB.test(stderr)) return undefined;
    if (code !== 0) throw new Error(`squeue failed: ${stderr}`);
    const [state, raw] = stdout.trim().split(/\s+/);
    if (!state) return undefined;
    return { state, ...(raw && /^\d+$/.test(raw) ? { exitCode: fromWaitStatus(Number(raw)) } : {}) };
  }

  /** The job as accounting remembers it; undefined when accounting does not know it or there is none. */
  async sacct(id: string): Promise<SlurmJob | undefined> {
    const { code, stdout, stderr } = await this.run('sacct', ['--noheader', '--parsable2', '--allocations', `--jobs=${id}`, '--format=State,ExitCode']);
    if (code !== 0 && (NO_ACCOUNTING.test(stderr) || UNKNOWN_JOB.test(stderr))) return undefined;
    if (code !== 0) throw new Error(`sacct failed: ${stderr}`);
    const [state, exit] = (stdout.trim().split('\n')[0] ?? '').split('|');
    if (!state) return undefined;
    // "CANCELLED by 0" -> CANCELLED; ExitCode is "<status>:<signal>".
    const [status, signal] = (exit ?? '').split(':').map(Number);
    const exitCode = signal ? 128 + signal : status;
    return { state: state.split(' ')[0] ?? state, ...(Number.isInteger(exitCode) ? { exitCode } : {}) };
  }

  /** Whether squeue lists the job among those not yet ended (pending, running, completing). */
  async listed(id: string): Promise<boolean> {
    const { code, stdout, stderr } = await this.run('squeue', ['--noheader', `--jobs=${id}`, '--format=%i']);
    if (code !== 0 && UNKNOWN_JOB.test(stderr)) return false;
    if (code !== 0) throw new Error(`squeue failed: ${stderr}`);
    return stdout.trim() !== '';
  }

  /** The id of a job with this name, in any state slurmctld still knows. */
  async jobNamed(name: string): Promise<string | undefined> {
    const { code, stdout, stderr } = await this.run('squeue', ['--noheader', '--states=all', `--name=${name}`, '--format=%i']);
    if (code !== 0) throw new Error(`squeue failed: ${stderr}`);
    return stdout.trim().split('\n').find((line) => /^\d+$/.test(line.trim()))?.trim();
  }

  async scancel(id: string): Promise<void> {
    const { code, stderr } = await this.run('scancel', [id]);
    // A job that has just ended is no error: cancelling is about it not running.
    if (code !== 0 && !UNKNOWN_JOB.test(stderr) && !/already completing or completed/i.test(stderr)) throw new Error(`scancel failed: ${stderr}`);
  }
}

/** Whether a command (a path, or a name looked up on PATH) is there to run. */
export function commandFound(command: string): boolean {
  const candidates = command.includes('/') ? [command] : (process.env.PATH ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  return candidates.some((path) => {
    try {
      accessSync(path, constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

/** A wait(2) status as Slurm reports it -> an exit code (128 + the signal when one ended the job). */
function fromWaitStatus(raw: number): number {
  const signal = raw & 0x7f;
  return signal ? 128 + signal : (raw >> 8) & 0xff;
}
