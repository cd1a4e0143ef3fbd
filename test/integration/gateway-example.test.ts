import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAnalysis } from '../../examples/gateway/gateway.js';
import { demoSite, startTestBroker, type TestBroker } from '../support/test-broker.js';

/** examples/gateway: the science gateway's whole flow, against a real broker and a real data server. */
describe('the gateway example', () => {
  let broker: TestBroker;
  let data: Server;
  let dataUrl = '';
  const dataset = Buffer.from('visibility data '.repeat(1000));
  beforeAll(async () => {
    broker = await startTestBroker({ config: { sites: [demoSite({ preparationMs: 0, releasingMs: 0 })] } });
    data = createServer((req, res) => {
      if (req.url === '/lake/obs-42.ms') res.writeHead(200, { 'Content-Length': dataset.length }).end(dataset);
      else res.writeHead(404).end();
    });
    await new Promise<void>((ready) => data.listen(0, '127.0.0.1', ready));
    dataUrl = `http://127.0.0.1:${(data.address() as AddressInfo).port}/lake/obs-42.ms`;
  });
  afterAll(async () => {
    await new Promise((done) => data.close(done));
    await broker.close();
  });

  it('locates the data, runs the analysis near it, follows it and fetches its outputs', async () => {
    const phases: string[] = [];
    const md5 = createHash('md5').update(dataset).digest('hex');
    const result = await runAnalysis({
      brokerUrl: broker.baseUrl,
      dataset: 'obs-42.ms',
      locate: async () => ({ location: 'democity', rse: 'DEMOCITY-RSE', url: dataUrl, sizeBytes: dataset.length, md5 }),
      image: 'images.example.org/analysis:1.0',
      entrypoint: '/bin/sh',
      command: ['-c', 'wc -c < data/obs-42.ms > "$EB_OUTPUTS/size.txt"; md5sum data/obs-42.ms | cut -d" " -f1 > "$EB_OUTPUTS/md5.txt"; echo analysed'],
      cores: 2,
      duration: 'PT10M',
      onPhase: (session) => phases.push(session.phase),
    });
    expect(result.session.phase).toBe('COMPLETED');
    expect(result.site).toBe('demo');
    expect(phases).toEqual(expect.arrayContaining(['RUNNING', 'COMPLETED']));
    expect(result.log).toBe('analysed\n');
    expect(result.outputs).toEqual({ 'md5.txt': `${md5}\n`, 'size.txt': `${dataset.length}\n` });
  });
});
