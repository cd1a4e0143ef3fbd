import { execFile } from 'node:child_process';
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { createClient } from '@hey-api/openapi-ts';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';

const run = promisify(execFile);
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const DRIVER = join(ROOT, 'test/fixtures/generated-client/driver.ts');

/**
 * A gateway generates its TypeScript client from the served /openapi.json (as the README shows)
 * and drives whole sessions with it: tsc checks the generated code and the driver strictly, so a
 * description that loses the subtypes (phase, schedule, the executable's fields) fails here.
 */
describe('a TypeScript client generated from /openapi.json', () => {
  let broker: TestBroker;
  let dir: string;
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ cores: 16, memoryGiB: 64, preparationMs: 0, releasingMs: 0 })] } });
    dir = mkdtempSync(join(tmpdir(), 'eb-generated-client-'));
  });
  afterAll(async () => {
    await broker.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('type-checks and drives offers, accept, poll to COMPLETED, cancel and /direct through the generated subtypes', async () => {
    const description = await broker.http.get('/openapi.json').expect(200);
    writeFileSync(join(dir, 'openapi.json'), description.text);
    await createClient({ input: join(dir, 'openapi.json'), output: join(dir, 'client'), logs: { level: 'silent' } });
    copyFileSync(DRIVER, join(dir, 'driver.ts'));
    writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }));
    writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
      compilerOptions: {
        strict: true, noUncheckedIndexedAccess: true, target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext',
        lib: ['ES2022', 'DOM', 'DOM.Iterable'], types: ['node'], typeRoots: [join(ROOT, 'node_modules/@types')], outDir: 'out',
      },
      include: ['driver.ts', 'client'],
    }));
    // The generated code really is checked: a driver reading a field no subtype has does not compile.
    writeFileSync(join(dir, 'wrong.ts'), "import type { DockerContainer } from './client/types.gen.js';\nexport const x = (d: DockerContainer): string => d.notAField;\n");
    writeFileSync(join(dir, 'tsconfig.wrong.json'), JSON.stringify({ extends: './tsconfig.json', compilerOptions: { noEmit: true }, include: ['wrong.ts'] }));
    const tsc = join(ROOT, 'node_modules/typescript/bin/tsc');
    await expect(run(process.execPath, [tsc, '-p', join(dir, 'tsconfig.wrong.json')], { cwd: dir })).rejects.toMatchObject({ stdout: expect.stringContaining('notAField') });
    await run(process.execPath, [tsc, '-p', dir], { cwd: dir });

    const { stdout } = await run(process.execPath, [join(dir, 'out/driver.js')], { cwd: dir, env: { ...process.env, BROKER_URL: broker.baseUrl }, timeout: 60_000 });
    const seen = JSON.parse(stdout) as Record<string, any>;
    expect(seen.offered).toEqual({
      phase: 'OFFERED', expires: expect.any(String), preparing: expect.stringMatching(/^\d{4}-/), available: expect.stringMatching(/^\d{4}-.+\/.+/),
    });
    expect(['ACCEPTED', 'WAITING']).toContain(seen.accepted);
    // Costs and metrics through the generated SimpleMinMaxFloatCost and SimpleMinMaxFloatMetric: the
    // offer's quote, and once COMPLETED what the session used (min = max), within the quote.
    const types = ['urn:ivoa:calycopis:cost:monetary', 'urn:ivoa:calycopis:cost:energy', 'urn:ivoa:calycopis:cost:carbon', 'urn:ivoa:calycopis:metric:compute-performance', 'urn:ivoa:calycopis:metric:io-throughput'];
    const quote = seen.quote as Array<[string, number, number]>;
    const used = seen.used as Array<[string, number, number]>;
    expect(quote.map(([type]) => type)).toEqual(types);
    expect(used.map(([type]) => type)).toEqual(types);
    used.forEach(([, min, max], i) => {
      expect(min).toBe(max);
      expect(min).toBeGreaterThanOrEqual(quote[i]![1]);
      expect(max).toBeLessThanOrEqual(quote[i]![2]);
    });
    expect(seen.completed).toEqual({
      phase: 'COMPLETED', executablePhase: 'COMPLETED', image: 'busybox', entrypoint: '/bin/sh',
      command: ['-c', 'echo hello from a generated client'], availableDuration: 'PT10M',
      connectors: ['urn:srcnet:connector:logs', 'urn:srcnet:connector:outputs'],
    });
    expect(seen.cancelled).toBe('CANCELLED');
    expect(seen.direct.phase).toMatch(/^(ACCEPTED|WAITING|PREPARING|AVAILABLE|RUNNING|RELEASING|COMPLETED)$/);
    expect(seen.refused).toEqual({ status: 400, phase: 'FAILED', messages: expect.arrayContaining([expect.stringMatching(/^urn:/)]) });
  }, 240_000);
});
