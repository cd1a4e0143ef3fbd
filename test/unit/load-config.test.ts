import { mkdtempSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { anonymousExposure } from '../../src/config/load-auth-config.js';
import { ConfigError, loadConfig } from '../../src/config/load-config.js';
import { economicsReader } from '../../src/config/site-economics-config.js';

const file = (name: string, text: string): string => {
  const path = join(mkdtempSync(join(tmpdir(), 'eb-config-')), name);
  writeFileSync(path, text);
  return path;
};

describe('configuration', () => {
  it('needs no file: the embedded default is one demo site, on loopback', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ host: '127.0.0.1', port: 8080, redisUrl: 'redis://127.0.0.1:6379', redisUrlGiven: false, maxOffers: 4, offerLifetimeMs: 300_000, provisionLifetimeMs: 600_000, reconcileIntervalMs: 5_000 });
    expect(loadConfig({ RECONCILE_INTERVAL: 'PT2S' }).reconcileIntervalMs).toBe(2_000);
    expect(config.sites.map((s) => s.name)).toEqual(['demo']);
  });

  it('gives the demo site room for the SRCNet prototype\'s example query, and the example\'s image', () => {
    const [demo] = loadConfig({}).sites;
    expect(demo).toMatchObject({ cores: 32, memoryGiB: 256, scratchGiB: 10_000, gpus: { K40: 1 }, locations: ['democity'] });
    expect(demo?.executor).toMatchObject({ developmentImages: { 'example.org/srcnet/source-finder:1.0': { entrypoint: '/bin/sh', command: [expect.stringMatching(/\/examples\/srcnet\/source-finder\.sh$/)] } } });
    expect(loadConfig({ PROVISION_LIFETIME: 'PT30S' }).provisionLifetimeMs).toBe(30_000);
  });

  it('sandboxes process runs by default and refuses a site that may run them unsandboxed for more than one user', () => {
    const site = (extra: string) => file('sites.yaml', `sites:\n  - { name: s, cores: 1, memoryGiB: 1, executor: { type: local, containerRuntime: none }${extra} }\n`);
    expect(loadConfig({ BROKER_CONFIG: site('') }).sites[0]?.processRuns).toEqual({ isolation: 'sandbox', network: 'none', runUid: 65534, processesPerRun: 256 });
    expect(loadConfig({ BROKER_CONFIG: site(', isolation: none, network: egress, runUid: 1234, limits: { processesPerRun: 64 }') }).sites[0]?.processRuns)
      .toEqual({ isolation: 'none', network: 'egress', runUid: 1234, processesPerRun: 64 });
    const oidc = { OIDC_ISSUER: 'https://issuer.example/', OIDC_AUDIENCE: 'eb' };
    for (const isolation of ['none', 'auto']) {
      expect(() => loadConfig({ ...oidc, BROKER_CONFIG: site(`, isolation: ${isolation}`) })).toThrow(/site s serves more than one user \(an issuer is configured\) and may run sessions as processes of its host with isolation: /);
    }
    expect(() => loadConfig({ ALLOW_ANONYMOUS_REMOTE: 'true', BROKER_CONFIG: site(', isolation: none') })).toThrow(/ALLOW_ANONYMOUS_REMOTE/);
    // A container runtime named: the process settings do not apply.
    const podman = file('sites.yaml', 'sites:\n  - { name: s, cores: 1, memoryGiB: 1, isolation: none, executor: { type: local, containerRuntime: podman } }\n');
    expect(loadConfig({ ...oidc, BROKER_CONFIG: podman }).sites[0]?.name).toBe('s');
    // The demo site falls back to plain processes for one user only.
    expect(loadConfig({}).sites[0]?.processRuns.isolation).toBe('auto');
    expect(loadConfig(oidc).sites[0]?.processRuns.isolation).toBe('sandbox');
  });

  it.each([
    [{ PORT: 'eighty' }, /PORT must be a whole number/],
    [{ PORT: '70000' }, /PORT must be a whole number from 0 to 65535/],
    [{ REDIS_URL: 'http://localhost' }, /REDIS_URL must start with redis:\/\//],
    [{ OFFER_LIFETIME: '5 minutes' }, /OFFER_LIFETIME must be an ISO 8601 duration/],
    [{ PROVISION_LIFETIME: 'PT0S' }, /PROVISION_LIFETIME must be longer than zero/],
    [{ RECONCILE_INTERVAL: 'PT0S' }, /RECONCILE_INTERVAL must be longer than zero/],
    [{ EB_KEY_PREFIX: 'a:b' }, /EB_KEY_PREFIX may hold/],
    [{ PUBLIC_URL: 'ftp://x' }, /PUBLIC_URL must be an http\(s\) URL/],
    [{ BROKER_CONFIG: '/nonexistent/sites.yaml' }, /cannot be read/],
  ])('refuses %p with a message that says what to change', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('takes a Jupyter image for a container site, and refuses one that is not an image reference', () => {
    const yaml = (image: string): string => `sites:\n  - name: c\n    cores: 1\n    memoryGiB: 4\n    executor: { type: local, containerRuntime: podman, jupyterImage: "${image}" }\n`;
    expect(loadConfig({ BROKER_CONFIG: file('j.yaml', yaml('quay.io/jupyter/base-notebook:2024-12-02')) }).sites[0]?.executor).toMatchObject({ jupyterImage: 'quay.io/jupyter/base-notebook:2024-12-02' });
    expect(() => loadConfig({ BROKER_CONFIG: file('j.yaml', yaml('--privileged')) })).toThrow(/\/sites\/0\/executor/);
  });

  it('refuses a sites file that is invalid, naming the field', () => {
    expect(() => loadConfig({ BROKER_CONFIG: file('s.yaml', 'sites:\n  - name: x\n    cores: -1\n    memoryGiB: 4\n') })).toThrow(/\/sites\/0\/cores must be >= 1/);
    expect(() => loadConfig({ BROKER_CONFIG: file('s.yaml', 'sites:\n  - name: x\n    cores: 1\n    memoryGiB: 4\n    colour: red\n') })).toThrow(/must NOT have additional properties \(colour\)/);
    expect(() => loadConfig({ BROKER_CONFIG: file('s.json', '{"sites": [') })).toThrow(/not valid JSON/);
    expect(() => loadConfig({ BROKER_CONFIG: file('s.yaml', 'sites:\n  - {name: x, cores: 1, memoryGiB: 1, executor: {type: slurm, slurmConf: slurm.conf}}\n') })).toThrow(/\/sites\/0\/executor/);
    expect(() => loadConfig({ BROKER_CONFIG: file('s.yaml', 'sites:\n  - {name: a, cores: 1, memoryGiB: 1}\n  - {name: a, cores: 2, memoryGiB: 2}\n') })).toThrow(/used twice/);
  });

  it('reads the metrics token from METRICS_TOKEN or a file, and refuses a weak one without printing it', () => {
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(loadConfig({ METRICS_TOKEN: 'abcdefghijklmnop' }).metricsToken).toBe('abcdefghijklmnop');
    expect(loadConfig({ METRICS_TOKEN_FILE: file('metrics-token', 'from-a-file-0123456789\n') }).metricsToken).toBe('from-a-file-0123456789');
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).toThrow(/16 to 512 printable characters/);
    expect(() => loadConfig({ METRICS_TOKEN: 'short-secret' })).not.toThrow(/short-secret/);
    expect(() => loadConfig({ METRICS_TOKEN_FILE: '/nonexistent/metrics-token' })).toThrow(/METRICS_TOKEN_FILE \/nonexistent\/metrics-token cannot be read/);
    expect(() => loadConfig({ METRICS_TOKEN: 'abcdefghijklmnop', METRICS_TOKEN_FILE: '/x' })).toThrow(/not both/);
  });

  it('takes GPU devices for a local site only as many as its GPUs of each model', () => {
    const site = (devices: string) => file('s.yaml', `sites:\n  - {name: g, cores: 8, memoryGiB: 8, gpus: {T4: 2}, executor: {type: local, containerRuntime: docker, gpuDevices: ${devices}}}\n`);
    expect(loadConfig({ BROKER_CONFIG: site('{T4: ["0", "GPU-9b2e"]}') }).sites[0]?.executor).toEqual({ type: 'local', containerRuntime: 'docker', gpuDevices: { T4: ['0', 'GPU-9b2e'] } });
    expect(() => loadConfig({ BROKER_CONFIG: site('{T4: ["0"]}') })).toThrow('site g: executor.gpuDevices.T4 names 1 device, but gpus.T4 counts 2');
    expect(() => loadConfig({ BROKER_CONFIG: site('{A100: ["0", "1"]}') })).toThrow('site g: executor.gpuDevices.A100 names 2 devices, but gpus.A100 counts 0');
    expect(() => loadConfig({ BROKER_CONFIG: site('{T4: ["0", "0"]}') })).toThrow(/gpuDevices\/T4 must NOT have duplicate items/);
    expect(() => loadConfig({ BROKER_CONFIG: site('{T4: ["0", "--all"]}') })).toThrow(/gpuDevices\/T4\/1 must match pattern/);
  });

  it('reads the hosts and blocks a site lets staging reach, refusing what is neither', () => {
    const site = (allow: string) => file('s.yaml', `sites:\n  - {name: e, cores: 8, memoryGiB: 8, egressAllow: ${allow}}\n`);
    expect(loadConfig({ BROKER_CONFIG: site('[127.0.0.1, 10.0.0.0/8, "fd00::/8", data.internal]') }).sites[0]?.egressAllow).toEqual(['127.0.0.1', '10.0.0.0/8', 'fd00::/8', 'data.internal']);
    expect(loadConfig({ BROKER_CONFIG: site('[]') }).sites[0]?.egressAllow).toEqual([]);
    expect(() => loadConfig({ BROKER_CONFIG: site('[10.0.0.0/40]') })).toThrow('site e: egressAllow: 10.0.0.0/40 is not an address or CIDR block');
    expect(() => loadConfig({ BROKER_CONFIG: site('["http://x/"]') })).toThrow('site e: egressAllow: http://x/ is not an address or CIDR block');
    expect(loadConfig({}).sites[0]?.egressAllow).toEqual(['127.0.0.1']); // the demo site's, for the examples' data
  });

  it('gives each site a fair share per user: twice its largest session by default, or what the file says', () => {
    const site = (extra: string) => file('s.yaml', `sites:\n  - {name: f, cores: 64, memoryGiB: 64, maxCoresPerSession: 16, gpus: {A100: 4, T4: 2}, maxDuration: PT12H${extra}}\n`);
    expect(loadConfig({ BROKER_CONFIG: site('') }).sites[0]?.fairShare).toEqual({ coreHours: 2 * 16 * 12, gpuHours: 2 * 4 * 12, offerSets: 16 });
    expect(loadConfig({ BROKER_CONFIG: site(', fairShare: {coreHours: 100, offerSets: 2}') }).sites[0]?.fairShare).toEqual({ coreHours: 100, gpuHours: 96, offerSets: 2 });
    expect(() => loadConfig({ BROKER_CONFIG: site(', fairShare: {cores: 1}') })).toThrow(/fairShare must NOT have additional properties/);
  });

  it('gives each site its limits: defaults, sizes with units, no more outputs than its scratch', () => {
    const site = (extra: string) => loadConfig({ BROKER_CONFIG: file('s.yaml', `sites:\n  - {name: l, cores: 1, memoryGiB: 1${extra}}\n`) }).sites[0]?.limits;
    expect(site('')).toEqual({ outputBytes: 10 * 2 ** 30, logBytes: 16 * 2 ** 20, servedLogBytes: 2 ** 20, retentionMs: 86_400_000 });
    // The issue's site: 1 GiB of scratch keeps no more than 1 GiB of outputs.
    expect(site(', scratchGiB: 1')?.outputBytes).toBe(2 ** 30);
    expect(site(', scratchGiB: 1, limits: {outputBytes: 5GiB}')?.outputBytes).toBe(2 ** 30);
    expect(site(', limits: {outputBytes: 1.5GB, logBytes: 64KiB, servedLogBytes: 1MiB, retention: PT1H}')).toEqual(
      { outputBytes: 1_500_000_000, logBytes: 65_536, servedLogBytes: 65_536, retentionMs: 3_600_000 });
    expect(site(', limits: {logBytes: 1048576}')?.logBytes).toBe(2 ** 20);
    expect(() => site(', limits: {logBytes: 12PB}')).toThrow(/\/sites\/0\/limits\/logBytes/);
    expect(() => site(', limits: {logBytes: 100}')).toThrow('site l: limits.logBytes must be a size of at least 8192 bytes (e.g. 512MiB, 10GiB), not "100"');
    expect(() => site(', limits: {retention: soon}')).toThrow(/site l: limits.retention must be an ISO 8601 duration/);
    expect(() => site(', limits: {quota: 1}')).toThrow(/must NOT have additional properties \(quota\)/);
  });

  it('reads a site\'s prices, power, carbon intensity and performance, with defaults, and says clearly what is wrong', () => {
    const site = (extra: string) => loadConfig({ BROKER_CONFIG: file('s.yaml', `sites:\n  - {name: p, cores: 8, memoryGiB: 8, gpus: {A100: 1}, defaultBandwidthMBps: 250${extra}}\n`) }).sites[0]?.economics;
    expect(site('')).toEqual({
      currency: 'EUR',
      prices: { coreHour: 0, memoryGiBHour: 0, storageGiBHour: 0, gpuHour: {}, gpuHourDefault: 0 },
      power: { coreWatts: 10, idleCoreWatts: 10, gpuWatts: {}, gpuWattsDefault: 300 },
      carbon: { gramsPerKWh: 400 },
      performance: { compute: 1, ioMBps: 250 },
    });
    const hourly = Array.from({ length: 24 }, (_, h) => 100 + h);
    const set = site(`, pricing: {currency: GBP, coreHour: 0.04, memoryGiBHour: 0.005, storageGiBHour: 0.0001, gpuHour: {A100: 2.5, '*': 1}}, power: {coreWatts: 12, idleCoreWatts: 4, gpuWatts: 250}, carbon: {gramsPerKWh: 180, hourly: [${hourly.join(', ')}]}, performance: {compute: 1.5, ioMBps: 900}`);
    expect(set).toEqual({
      currency: 'GBP',
      prices: { coreHour: 0.04, memoryGiBHour: 0.005, storageGiBHour: 0.0001, gpuHour: { A100: 2.5 }, gpuHourDefault: 1 },
      power: { coreWatts: 12, idleCoreWatts: 4, gpuWatts: {}, gpuWattsDefault: 250 },
      carbon: { gramsPerKWh: 180, hourly },
      performance: { compute: 1.5, ioMBps: 900 },
    });
    const forecast = file('carbon.csv', 'start,gramsPerKWh\n2026-06-01T01:00:00Z,120\n# a comment\n2026-06-01T00:00:00Z, 90\n');
    expect(site(`, carbon: {forecastFile: ${forecast}}`)?.carbon.forecast).toEqual([
      { start: Date.UTC(2026, 5, 1, 0), gramsPerKWh: 90 }, { start: Date.UTC(2026, 5, 1, 1), gramsPerKWh: 120 }]);
    const json = file('carbon.json', JSON.stringify([{ start: '2026-06-01T00:00:00Z', gramsPerKWh: 50 }]));
    expect(site(`, carbon: {forecastFile: ${json}}`)?.carbon.forecast).toEqual([{ start: Date.UTC(2026, 5, 1, 0), gramsPerKWh: 50 }]);
    expect(() => site(', carbon: {hourly: [1, 2, 3]}')).toThrow(/\/sites\/0\/carbon\/hourly must NOT have fewer than 24 items/);
    expect(() => site(', pricing: {coreHour: -1}')).toThrow(/\/sites\/0\/pricing\/coreHour must be >= 0/);
    expect(() => site(', power: {coreWatts: 5, idleCoreWatts: 6}')).toThrow('site p: power.idleCoreWatts (6) must not be more than power.coreWatts (5)');
    expect(() => site(', carbon: {forecastFile: /nonexistent/carbon.csv}')).toThrow(/site p: carbon.forecastFile \/nonexistent\/carbon.csv cannot be read/);
    const bad = file('bad.csv', '2026-06-01T00:00:00Z,lots\n');
    expect(() => site(`, carbon: {forecastFile: ${bad}}`)).toThrow(`site p: carbon.forecastFile ${bad}: entry 1 needs a start (an ISO 8601 instant) and gramsPerKWh (a number of at least 0)`);
  });

  it('reads a site\'s carbon forecast again when the file changes, and keeps the last good one when it cannot', () => {
    const path = file('forecast.csv', '2026-06-01T00:00:00Z,100\n');
    const site = loadConfig({ BROKER_CONFIG: file('s.yaml', `sites:\n  - {name: f, cores: 1, memoryGiB: 1, carbon: {forecastFile: ${path}}}\n`) }).sites[0]!;
    const read = economicsReader();
    expect(read(site)?.carbon.forecast).toEqual([{ start: Date.UTC(2026, 5, 1), gramsPerKWh: 100 }]);
    writeFileSync(path, '2026-06-01T00:00:00Z,40\n');
    utimesSync(path, new Date(), new Date(Date.now() + 5000));
    expect(read(site)?.carbon.forecast).toEqual([{ start: Date.UTC(2026, 5, 1), gramsPerKWh: 40 }]);
    writeFileSync(path, 'not a forecast\n');
    utimesSync(path, new Date(), new Date(Date.now() + 10_000));
    expect(read(site)?.carbon.forecast).toEqual([{ start: Date.UTC(2026, 5, 1), gramsPerKWh: 40 }]);
  });
});

describe('authentication settings', () => {
  const key = Buffer.alloc(32, 7).toString('base64');
  const exchangeSite = (): string => file('s.yaml', 'sites:\n  - name: x\n    cores: 1\n    memoryGiB: 1\n    storageElements: [{ name: X, hosts: [Data.X.example] }]\n    tokenExchange: { audience: https://x.example }\n');

  it('runs anonymously without an issuer, with a key of its own, and refuses to be exposed that way', () => {
    const { auth } = loadConfig({});
    expect(auth.oidc).toBeUndefined();
    expect(auth.tokenKey).toHaveLength(32);
    expect(auth.tokenKeyGiven).toBe(false);
    expect(anonymousExposure(auth, '127.0.0.1')).toBeUndefined();
    expect(anonymousExposure(auth, '::1')).toBeUndefined();
    expect(anonymousExposure(auth, '0.0.0.0')).toMatch(/HOST=0.0.0.0 is beyond loopback .*ALLOW_ANONYMOUS_REMOTE=true/);
    expect(anonymousExposure(loadConfig({ ALLOW_ANONYMOUS_REMOTE: 'true' }).auth, '0.0.0.0')).toBeUndefined();
  });

  it('reads the issuer, audience, scopes, groups and client from the environment over the sites file', () => {
    const path = file('s.yaml', 'auth:\n  issuer: https://file.example\n  audience: from-file\n  scopes: [a, b]\n  groupsClaim: wlcg.groups\nsites:\n  - {name: x, cores: 1, memoryGiB: 1}\n');
    const { auth } = loadConfig({ BROKER_CONFIG: path, OIDC_ISSUER: 'https://iam.example/', OIDC_SCOPES: 'eb:use, eb:admin', OIDC_OPERATOR_GROUP: '/ska/ops' });
    expect(auth.oidc).toMatchObject({
      issuer: 'https://iam.example/', audience: 'from-file', requiredScopes: ['eb:use', 'eb:admin'], groupsClaim: 'wlcg.groups',
      operatorGroup: '/ska/ops', requiredGroups: [], introspection: false, clockToleranceSeconds: 5, jwksCooldownMs: 30_000,
    });
    expect(anonymousExposure(auth, '0.0.0.0')).toBeUndefined();
  });

  it('gives a site that exchanges tokens its hosts: those named, or its storage elements\'', () => {
    const config = loadConfig({ BROKER_CONFIG: exchangeSite(), OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's', TOKEN_KEY: key });
    expect(config.sites[0]?.tokenExchange).toEqual({ audience: 'https://x.example', hosts: ['data.x.example'] });
    expect(config.auth.tokenKeyGiven).toBe(true);
  });

  it.each([
    [{ OIDC_AUDIENCE: 'b' }, /OIDC_AUDIENCE is set but no issuer is/],
    [{ OIDC_ISSUER: 'https://iam.example' }, /OIDC_AUDIENCE must say/],
    [{ OIDC_ISSUER: 'http://iam.example', OIDC_AUDIENCE: 'b' }, /must be an https URL \(plain http only on loopback\)/],
    [{ OIDC_ISSUER: 'not a url', OIDC_AUDIENCE: 'b' }, /must be a URL/],
    [{ OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', OIDC_CLIENT_ID: 'c' }, /go together/],
    [{ OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', OIDC_INTROSPECTION: 'true' }, /INTROSPECTION needs the broker's client/],
    [{ OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', OIDC_INTROSPECTION: 'yes' }, /must be true or false/],
    [{ ALLOW_ANONYMOUS_REMOTE: '1' }, /ALLOW_ANONYMOUS_REMOTE must be true or false/],
    [{ TOKEN_KEY: 'c2hvcnQ=' }, /TOKEN_KEY must be 32 bytes/],
  ])('refuses %p', (env, message) => {
    expect(() => loadConfig(env)).toThrow(ConfigError);
    expect(() => loadConfig(env)).toThrow(message);
  });

  it('refuses a site that exchanges tokens without an issuer, the broker\'s client, or a shared TOKEN_KEY', () => {
    expect(() => loadConfig({ BROKER_CONFIG: exchangeSite() })).toThrow(/site x acts for the user \(tokenExchange\), which needs an issuer/);
    expect(() => loadConfig({ BROKER_CONFIG: exchangeSite(), OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', TOKEN_KEY: key })).toThrow(/needs the broker's client/);
    expect(() => loadConfig({ BROKER_CONFIG: exchangeSite(), OIDC_ISSUER: 'https://iam.example', OIDC_AUDIENCE: 'b', OIDC_CLIENT_ID: 'c', OIDC_CLIENT_SECRET: 's' })).toThrow(/needs TOKEN_KEY/);
  });

  it('reads a site\'s S3 credentials inline or from files, keeping them as secrets, and the Data Management API', () => {
    const secretFile = file('secret', 'from-a-file\n');
    const config = loadConfig({ BROKER_CONFIG: file('s.yaml', [
      'dataManagement: {url: "https://dm.example/api/v1", audience: "https://dm.example", egressAllow: ["10.1.0.0/16"]}',
      'sites:',
      '  - name: x',
      '    cores: 1',
      '    memoryGiB: 1',
      `    s3: [{endpoint: "https://s3.example/", region: eu-west-2, accessKeyId: AKIAX, secretAccessKeyFile: ${secretFile}}]`,
      '',
    ].join('\n')) });
    const [credential] = config.sites[0]?.s3 ?? [];
    expect([credential?.endpoint, credential?.region, credential?.accessKeyId.reveal(), credential?.secretAccessKey.reveal()]).toEqual(['https://s3.example', 'eu-west-2', 'AKIAX', 'from-a-file']);
    expect(JSON.stringify(config)).not.toMatch(/AKIAX|from-a-file/);
    expect(config.dataManagement).toEqual({ url: 'https://dm.example/api/v1', audience: 'https://dm.example', egressAllow: ['10.1.0.0/16'] });
    const s3Site = (entry: string) => file('s.yaml', `sites:\n  - {name: x, cores: 1, memoryGiB: 1, s3: [${entry}]}\n`);
    expect(() => loadConfig({ BROKER_CONFIG: s3Site('{endpoint: "https://s3.example", accessKeyId: a}') })).toThrow(/site x: s3 https:\/\/s3\.example: give secretAccessKey or secretAccessKeyFile, one of the two/);
    expect(() => loadConfig({ BROKER_CONFIG: s3Site(`{endpoint: "https://s3.example", accessKeyId: a, secretAccessKey: b, secretAccessKeyFile: ${secretFile}}`) })).toThrow(/one of the two/);
    expect(() => loadConfig({ BROKER_CONFIG: s3Site('{endpoint: "s3.example", accessKeyId: a, secretAccessKey: b}') })).toThrow(/\/sites\/0\/s3\/0\/endpoint must match/);
    expect(() => loadConfig({ BROKER_CONFIG: s3Site('{endpoint: "https://s3.example", accessKeyId: a, secretAccessKeyFile: /nonexistent/key}') })).toThrow(/cannot read secretAccessKeyFile \/nonexistent\/key/);
  });

  it('binds a site to a site capabilities compute and queue, which needs SITE_CAPABILITIES_URL, and refuses a binding it cannot use', () => {
    const site = (extra: string) => file('sites.yaml', `sites:\n  - { name: s, cores: 4, memoryGiB: 4${extra} }\n  - { name: t, cores: 4, memoryGiB: 4 }\n`);
    const bound = site(', siteCapabilities: { site: TEST_A, compute: db1d3ee3-74e4-48aa-afaf-8d7709a2f57c, queue: test-queue-1 }');
    const config = loadConfig({ BROKER_CONFIG: bound, SITE_CAPABILITIES_URL: 'https://scapi.example/api/v1', SITE_CAPABILITIES_REFRESH: 'PT1M', SITE_CAPABILITIES_AUDIENCE: 'site-capabilities-api' });
    expect(config.sites[0]?.siteCapabilities).toEqual({ site: 'TEST_A', compute: 'db1d3ee3-74e4-48aa-afaf-8d7709a2f57c', queue: 'test-queue-1' });
    expect(config.sites[1]?.siteCapabilities).toBeUndefined();
    expect(config.siteCapabilities).toEqual({ url: 'https://scapi.example/api/v1', refreshMs: 60_000, audience: 'site-capabilities-api' });
    expect(loadConfig({ BROKER_CONFIG: bound, SITE_CAPABILITIES_URL: 'https://scapi.example/api/v1' }).siteCapabilities?.refreshMs).toBe(300_000);
    expect(loadConfig({}).siteCapabilities).toBeUndefined();
    expect(() => loadConfig({ BROKER_CONFIG: bound })).toThrow('site s names a siteCapabilities compute, which needs SITE_CAPABILITIES_URL');
    expect(() => loadConfig({ SITE_CAPABILITIES_URL: 'https://scapi.example/api/v1' })).toThrow('SITE_CAPABILITIES_URL is set, but no site names its siteCapabilities compute');
    expect(() => loadConfig({ BROKER_CONFIG: bound, SITE_CAPABILITIES_URL: 'ftp://scapi.example' })).toThrow(/SITE_CAPABILITIES_URL must be an http\(s\) URL/);
    expect(() => loadConfig({ SITE_CAPABILITIES_REFRESH: 'PT1M' })).toThrow('SITE_CAPABILITIES_REFRESH set without SITE_CAPABILITIES_URL');
    expect(() => loadConfig({ BROKER_CONFIG: site(', siteCapabilities: { queue: q }') })).toThrow(/not a valid sites file: \/sites\/0\/siteCapabilities must have required property 'compute'/);
    expect(() => loadConfig({ BROKER_CONFIG: site(', siteCapabilities: { compute: c, partition: p }') })).toThrow(/siteCapabilities must NOT have additional properties/);
  });
});
