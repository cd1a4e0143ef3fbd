import { demoSite, dockerRequest, startTestBroker, V1, type TestBroker } from '../support/test-broker.js';

type Doc = Record<string, any>;
const GIB = 1024 ** 3;

/** Several sites behind one broker: fan-out, per-site reasons, data locality, GPUs. */
describe('a federation of sites', () => {
  let broker: TestBroker;
  beforeAll(async () => {
    broker = await startTestBroker({
      config: {
        sites: [
          demoSite({ name: 'north', cores: 32, memoryGiB: 128, gpus: {}, storageElements: [], defaultBandwidthMBps: 100 }),
          demoSite({
            name: 'south', cores: 16, memoryGiB: 64, gpus: { A100: 2 },
            storageElements: [{ name: 'SOUTH-RSE', hosts: ['data.south.example'], bandwidthMBps: 5000, local: true }],
          }),
          demoSite({ name: 'tiny', cores: 2, memoryGiB: 4, gpus: {}, storageElements: [] }),
        ],
      },
    });
  });
  afterAll(async () => { await broker.close(); });

  const post = async (body: Doc): Promise<Doc> => {
    const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body));
    expect(res.status).toBe(303);
    return res.body as Doc;
  };
  const siteOf = (offer: Doc): string => String(offer.meta.description).replace('Offered by site ', '');
  const startOf = (offer: Doc): number => Date.parse(String(offer.schedule.available.start).split('/')[0] ?? '');

  it('asks every site that could fit, and names each one that cannot and why', async () => {
    const set = await post(dockerRequest({ min: 8, max: 8 }, { min: 8, max: 8 }));
    expect(set.result).toBe('YES');
    expect((set.offers as Doc[]).map(siteOf).sort()).toEqual(['north', 'south']);
    expect(set.meta.messages.map((m: Doc) => m.message)).toContain('Site tiny: 8 cores asked, 2 exist');
  });

  it('prefers the site that holds the data: staging elsewhere delays the start', async () => {
    const body = {
      ...dockerRequest({ min: 2, max: 2 }),
      data: [{
        kind: `${V1}/data/skao-data-resource.yaml`, meta: { name: 'visibilities' },
        ivoa: { ivoid: 'ivo://skao.int/data?vis' },
        skao: { namespace: 'ska', objectname: 'vis.ms', datasize: 50 * GIB, replicas: [{ rsename: 'SOUTH-RSE', dataurl: 'https://data.south.example/ska/vis.ms' }] },
      }],
    };
    const set = await post(body);
    expect(set.result).toBe('YES');
    const [first, second] = set.offers as Doc[];
    expect([siteOf(first!), siteOf(second!)]).toEqual(['south', 'north']);
    // 50 GiB at 100 MB/s is 512 s of staging for north on top of its 5 s; south holds the data.
    expect(first!.schedule.preparing.duration).toBe('PT5S');
    expect(second!.schedule.preparing.duration).toBe('PT8M37S');
    expect(startOf(second!) - startOf(first!)).toBeGreaterThanOrEqual(512_000);
  });

  it('sends GPU requests only where the model exists, and echoes the GPUs offered', async () => {
    const body = { ...dockerRequest({ min: 2, max: 2 }), compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 2 }, 'srcnet.gpu': { count: 1, model: 'A100' } } };
    const set = await post(body);
    expect(set.result).toBe('YES');
    for (const offer of set.offers as Doc[]) {
      expect(siteOf(offer)).toBe('south');
      expect(offer.compute['srcnet.gpu']).toEqual({ count: 1, model: 'A100' });
    }
    expect(set.meta.messages.map((m: Doc) => m.message)).toEqual(expect.arrayContaining([
      'Site north: 1 A100 GPUs asked, none exist',
      'Site tiny: 1 A100 GPUs asked, none exist',
    ]));
    const tooMany = await post({ ...body, compute: { ...body.compute, 'srcnet.gpu': { count: 3, model: 'A100' } } });
    expect(tooMany.result).toBe('NO');
    expect(tooMany.meta.messages.map((m: Doc) => m.message)).toContain('Site south: 3 A100 GPUs asked, 2 exist');
  });
});

/** A container site can give a run only the GPU devices it names: counted GPUs alone are no offer. */
describe('GPUs on container sites', () => {
  it('offers GPUs of a model only where the site names devices its containers can be given', async () => {
    // The docker client is all these site workers need: negotiating never runs it.
    const container = { type: 'local' as const, containerRuntime: 'docker' as const };
    const broker = await startTestBroker({
      config: {
        sites: [
          demoSite({ name: 'counted', gpus: { T4: 2 }, executor: container }),
          demoSite({ name: 'named', gpus: { T4: 2 }, executor: { ...container, gpuDevices: { T4: ['0', '1'] } } }),
        ],
      },
    });
    try {
      const body = { ...dockerRequest({ min: 1, max: 1 }), compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1 }, 'srcnet.gpu': { count: 1, model: 'T4' } } };
      const res = await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(body)).expect(303);
      const set = res.body as Doc;
      expect(set.result).toBe('YES');
      expect(new Set((set.offers as Doc[]).map((offer) => String(offer.meta.description)))).toEqual(new Set(['Offered by site named']));
      expect(set.meta.messages).toEqual(expect.arrayContaining([expect.objectContaining({
        kind: 'urn:not-supported', message: 'Site counted counts T4 GPUs but cannot give them to its containers (no devices named for them)',
      })]));
      // Without GPUs, both sites offer.
      const plain = (await broker.http.post('/requests').set('Content-Type', 'application/json').send(JSON.stringify(dockerRequest({ min: 1, max: 1 }))).expect(303)).body as Doc;
      expect(new Set((plain.offers as Doc[]).map((offer) => String(offer.meta.description)))).toEqual(new Set(['Offered by site counted', 'Offered by site named']));
    } finally {
      await broker.close();
    }
  });
});
