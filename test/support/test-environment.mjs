// Jest's node environment, with a temporary directory of its own per Jest worker.
// Why: many tests run the demo site with its default scratch root, <tmpdir>/srcnet-eb/demo, and a
// site worker's start-up sweeps that root's session directories and run cgroups. With two Jest
// workers, two files would sweep each other's runs. Each worker gets <tmpdir>/eb-jest-<id> as
// TMPDIR, set in the worker's real environment (Node's os.tmpdir() and child processes read that
// one, not the copy a test file sees), before the test file's environment is made.
import { mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestEnvironment as NodeEnvironment } from 'jest-environment-node';

const machineTmp = process.env.EB_TEST_MACHINE_TMPDIR ?? tmpdir();
process.env.EB_TEST_MACHINE_TMPDIR = machineTmp;

export default class WorkerScratchEnvironment extends NodeEnvironment {
  constructor(config, context) {
    const own = join(machineTmp, `eb-jest-${process.env.JEST_WORKER_ID ?? '1'}`);
    mkdirSync(own, { recursive: true });
    process.env.TMPDIR = own;
    super(config, context);
  }
}
