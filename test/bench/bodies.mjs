// The one execution request every scenario sends, as JSON and as XML.
// JSON mirrors dockerRequest() in test/support/test-broker.ts (cores and memory min = max = 1,
// duration PT10M, v1.0 kind family). The XML is the same document written by the broker's own
// XML encoder, so both formats carry exactly the same request; run.mjs checks that they decode
// to the same value before measuring.
import { encodeXml } from '../../dist/protocol/codecs/xml-codec.js';

export const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';

export const requestDocument = {
  executable: {
    kind: `${V1}/executable/docker-container.yaml`,
    meta: { name: 'job' },
    image: { locations: ['docker.io/library/busybox:1.36'] },
    entrypoint: '/bin/sh',
    command: ['-c', 'echo hello'],
  },
  compute: { kind: `${V1}/compute/simple-compute-resource.yaml`, cores: { min: 1, max: 1 }, memory: { min: 1, max: 1 } },
  schedule: { requested: { duration: 'PT10M' } },
};

export const jsonBody = Buffer.from(JSON.stringify(requestDocument));

export const xmlBody = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>${encodeXml(requestDocument, 'ExecutionRequest').replace(/^<\?xml[^>]*\?>/, '')}`);
