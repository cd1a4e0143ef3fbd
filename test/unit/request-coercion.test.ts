import { readExecutionRequestBody } from '../../src/protocol/read-request-body.js';

const V1 = 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds';
const yaml = (executable: string): Uint8Array => Buffer.from(`executable:\n  kind: ${V1}/executable/docker-container.yaml\n  image: { locations: [busybox] }\n${executable}`);

describe('command items and environment values', () => {
  it('reads numbers and booleans as their text, as YAML users write them', () => {
    const read = readExecutionRequestBody(yaml('  command: [sleep, 10, 1.5, true]\n  environment: { COUNT: 3, DEBUG: false, NAME: x }\n'), 'application/yaml');
    expect(read.components.executable).toMatchObject({ command: ['sleep', '10', '1.5', 'true'], environment: { COUNT: '3', DEBUG: 'false', NAME: 'x' } });
    expect(read.messages.filter((m) => m.level === 'ERROR')).toEqual([]);
  });

  it('reads JSON numbers the same way', () => {
    const body = JSON.stringify({ executable: { kind: `${V1}/executable/docker-container.yaml`, image: { locations: ['busybox'] }, command: ['sleep', 10] } });
    expect(readExecutionRequestBody(Buffer.from(body), 'application/json').components.executable).toMatchObject({ command: ['sleep', '10'] });
  });

  it.each([
    ['an object among the command items', '  command: [sleep, { n: 10 }]\n', /\/executable\/command\/1/],
    ['an array among the command items', '  command: [sleep, [10]]\n', /\/executable\/command\/1/],
    ['an object as an environment value', '  environment: { A: { b: 1 } }\n', /\/executable\/environment\/A/],
    ['an array as an environment value', '  environment: { A: [1] }\n', /\/executable\/environment\/A/],
  ])('still refuses %s', (_what, text, pointer) => {
    expect(() => readExecutionRequestBody(yaml(text), 'application/yaml')).toThrow(expect.objectContaining({ code: 'invalid-document', message: expect.stringMatching(pointer) }));
  });
});
