import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { validate as lintDockerfile } from 'dockerfile-utils';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../src/config/load-config.js';

type Doc = Record<string, any>;
const root = (path: string): string => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const compose = parseYaml(readFileSync(root('docker/compose.yaml'), 'utf8'), { merge: true }) as Doc;
const dockerfile = readFileSync(root('docker/Dockerfile'), 'utf8');

/**
 * The container files, checked without a container engine (none runs here): the compose file
 * against the Compose Specification's JSON Schema and our deployment rules, the Dockerfile with a
 * Dockerfile linter (dockerfile-utils) and our image rules.
 */
describe('docker/', () => {
  it('compose.yaml is a valid Compose file', () => {
    // The schema names its parts with draft-04 `id`s, which Ajv refuses: they are dropped (nothing refers to them).
    const schema = JSON.parse(readFileSync(root('test/fixtures/compose-spec/compose_spec.json'), 'utf8'),
      (key, value: unknown) => (key === 'id' && typeof value === 'string' ? undefined : value)) as Doc;
    const ajv = new Ajv2019({ strict: false, allErrors: true, validateFormats: false, validateSchema: false });
    const { $schema: _draft, ...rules } = schema;
    const valid = ajv.validate(rules, compose);
    expect(ajv.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('runs Redis append-only and never evicting, two API replicas, the timers and a worker per site', () => {
    const services = compose.services as Record<string, Doc>;
    expect(services.redis!.command).toEqual(expect.arrayContaining(['--appendonly', 'yes', '--maxmemory-policy', 'noeviction']));
    expect(services.api!.deploy.replicas).toBe(2);
    expect(services.api!.command).toEqual(['node', 'dist/main/api.js']);
    expect(services.timers!.command).toEqual(['node', 'dist/main/timers.js']);
    const workers = Object.entries(services).filter(([name]) => name.startsWith('worker-'));
    const sites = loadConfig({ REDIS_URL: 'redis://x:6379', BROKER_CONFIG: root('docker/sites.yaml') }).sites;
    expect(workers.map(([, w]) => w.environment.SITES).sort()).toEqual(sites.map((s) => s.name).sort());
    for (const [name, service] of Object.entries(services).filter(([n]) => n !== 'redis')) {
      expect([name, service.environment.REDIS_URL]).toEqual([name, 'redis://redis:6379']);
      expect([name, service.depends_on.redis.condition]).toEqual([name, 'service_healthy']);
      // Every command names an entry point the build produces.
      expect(readFileSync(root(`src/main/${String(service.command[1]).replace(/^dist\/main\/(.+)\.js$/, '$1')}.ts`), 'utf8')).toContain('runProcess');
    }
    // Ports published on loopback only.
    expect(services.api!.ports).toEqual(['127.0.0.1:8080-8081:8080']);
  });

  it('the Dockerfile lints clean and builds a non-root, production-only, multi-stage image', () => {
    expect(lintDockerfile(dockerfile).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    const stages = dockerfile.match(/^FROM .+$/gm) ?? [];
    expect(stages.length).toBe(2);
    expect(stages.every((from) => /:\d+-bookworm-slim/.test(from))).toBe(true); // pinned, never :latest
    // The current LTS, which package.json's engines allow.
    expect(stages.map((from) => /^FROM node:(\d+)-/.exec(from)?.[1])).toEqual(['24', '24']);
    expect((JSON.parse(readFileSync(root('package.json'), 'utf8')) as { engines: { node: string } }).engines.node).toMatch(/>=24$/);
    const final = dockerfile.slice(dockerfile.lastIndexOf('\nFROM '));
    expect(final).toMatch(/^USER node$/m);
    expect(final).not.toMatch(/npm (ci|install)(?![^\n]*--omit=dev)/);
    expect(dockerfile).toMatch(/npm prune --omit=dev/);
    expect(final).toMatch(/^HEALTHCHECK /m);
    expect(final).toMatch(/^CMD \["node", "dist\/main\/api\.js"\]$/m);
  });
});
