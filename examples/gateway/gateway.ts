// What the SRCNet science gateway does for a user, written with the broker's client library
// (src/client): find where the dataset is, ask for offers to run a container near it, accept the
// best, follow the session to its end, and fetch what it produced. Run by the test suite
// (test/integration/gateway-example.test.ts) against a real broker and a real data server.
import { BrokerClient, type Session } from '../../src/client/broker-client.js';

const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';

/** Where the data lake says a dataset is: an SRCNet location and a replica there. */
export interface DatasetReplica { location: string; rse: string; url: string; sizeBytes: number; md5?: string }

/** The data lake's answer (in SRCNet, a Rucio "list replicas" call; here, a function given in). */
export type LocateDataset = (name: string) => Promise<DatasetReplica>;

export interface AnalysisRequest {
  brokerUrl: string;
  /** The user's token, exchanged by the gateway for one meant for the broker. */
  token?: string;
  dataset: string;
  locate: LocateDataset;
  image: string;
  /** The program and its arguments; the dataset is mounted read-only at /data/<dataset>. */
  entrypoint: string;
  command: string[];
  cores: number;
  duration: string;
  onPhase?: (session: Session) => void;
}

export interface AnalysisResult { session: Session; site: string; log: string; outputs: Record<string, string> }

export async function runAnalysis(request: AnalysisRequest): Promise<AnalysisResult> {
  const broker = new BrokerClient({ baseUrl: request.brokerUrl, ...(request.token ? { token: request.token } : {}) });

  // 1. Where is the data? The broker prefers sites that hold it, and plans staging for the others.
  const replica = await request.locate(request.dataset);

  // 2. Offers for the container, with the dataset as an SKAO data resource mounted where it reads it.
  const offers = await broker.requestOffers({
    executable: {
      kind: `${V1}/executable/docker-container.yaml`, meta: { name: 'analysis' },
      image: { locations: [request.image] }, entrypoint: request.entrypoint, command: request.command,
    },
    compute: {
      kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: request.cores, max: request.cores },
      volumes: [{ kind: `${V1}/volume/simple-volume-mount.yaml`, path: `/data/${request.dataset}`, mode: 'READONLY', resource: request.dataset }],
    },
    data: [{
      kind: `${V1}/data/skao-data-resource.yaml`, meta: { name: request.dataset },
      ivoa: { ivoid: `ivo://srcnet/${request.dataset}` },
      skao: {
        namespace: 'gateway', objectname: request.dataset, datasize: replica.sizeBytes,
        ...(replica.md5 ? { checksum: { type: 'md5', value: replica.md5 } } : {}),
        replicas: [{ rsename: replica.rse, dataurl: replica.url }],
      },
    }],
    schedule: { requested: { duration: request.duration } },
  });
  const best = offers.offers?.[0];
  if (offers.result !== 'YES' || !best) {
    throw new Error(`no site can run it: ${(offers.meta.messages ?? []).map((m) => m.message).join('; ')}`);
  }
  const site = /site (\S+)/.exec(best.meta.description ?? '')?.[1] ?? 'unknown';

  // 3. Accept the best offer (the others are released at once), 4. follow it to its end.
  await broker.setPhase(best.meta.uuid, 'ACCEPTED');
  const session = await broker.watch(best.meta.uuid, request.onPhase);
  const log = await broker.logs(best.meta.uuid);
  if (session.phase !== 'COMPLETED') return { session, site, log, outputs: {} };

  // 5. Fetch what it produced.
  const outputs: Record<string, string> = {};
  for (const file of await broker.outputs(best.meta.uuid)) outputs[file.path] = await broker.fetchOutput(file.url);
  return { session, site, log, outputs };
}
