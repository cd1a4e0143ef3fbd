import { XMLParser } from 'fast-xml-parser';
import { encodeXml } from '../../src/protocol/codecs/xml-codec.js';

// The writer names every element's namespace itself (encodeXml: none for the broker's documents,
// RFC 7807's for a problem) rather than letting xmlbuilder2 look it up per element. These pin
// what a reader sees: no namespace declaration anywhere in the broker's documents, and a problem
// whose elements all sit in RFC 7807's namespace, declared once on its root.
describe('the namespaces of written XML', () => {
  const offerSet = {
    kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/offerset/execution-offerset.yaml',
    meta: { uuid: 'a1b2', messages: [{ kind: 'urn:x', level: 'WARN', template: 't', values: { site: 'demo', 'not a name': 1 }, message: 'm' }] },
    result: 'YES',
    offers: [{
      kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/session/scheduled-execution-session.yaml',
      meta: { uuid: 's1' },
      phase: 'OFFERED',
      compute: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/compute/simple-compute-resource.yaml', cores: { min: 1, max: 1 } },
      'srcnet.extra': { nested: ['a', 'b'] },
    }],
  };

  it('declares no namespace in an offer set, a listing or their nested and unknown parts', () => {
    const written = [encodeXml(offerSet, 'OfferSetResponse'), encodeXml({ sites: [{ name: 'a', gpus: { 'A100 80GB': 2 } }] }, 'SiteList')];
    for (const xml of written) expect(xml).not.toMatch(/xmlns/);
    const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';
    expect(written[0]).toBe(`<?xml version="1.0" encoding="UTF-8"?><offers-response kind="${V1}/offerset/execution-offerset.yaml"><meta><uuid>a1b2</uuid>`
      + '<message><kind>urn:x</kind><level>WARN</level><template>t</template><values><site>demo</site><entry key="not a name">1</entry></values><message>m</message></message></meta>'
      + `<result>YES</result><offers><execution kind="${V1}/session/scheduled-execution-session.yaml"><meta><uuid>s1</uuid></meta><phase>OFFERED</phase>`
      + `<compute kind="${V1}/compute/simple-compute-resource.yaml"><cores><min>1</min><max>1</max></cores></compute>`
      + '<srcnet.extra><nested>a</nested><nested>b</nested></srcnet.extra></execution></offers></offers-response>');
    expect(written[1]).toBe('<?xml version="1.0" encoding="UTF-8"?><site-list><sites><site><name>a</name><gpus><entry key="A100 80GB">2</entry></gpus></site></sites></site-list>');
  });

  it('puts every element of a problem in RFC 7807\'s namespace, declared once', () => {
    const xml = encodeXml({ type: 'urn:x', title: 'T', status: 400, extra: { a: 1, b: [1, 2] } }, 'Problem');
    expect(xml).toBe('<?xml version="1.0" encoding="UTF-8"?><problem xmlns="urn:ietf:rfc:7807"><type>urn:x</type><title>T</title><status>400</status><extra><a>1</a><b>1</b><b>2</b></extra></problem>');
    const parsed = new XMLParser({ ignoreAttributes: false }).parse(xml) as Record<string, Record<string, unknown>>;
    expect(parsed.problem?.['@_xmlns']).toBe('urn:ietf:rfc:7807');
  });
});
