import { checkDocument } from '../../src/protocol/validator.js';

describe('the schema validator', () => {
  it('accepts a minimal docker request', () => {
    expect(checkDocument('ExecutionRequest', {
      executable: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/docker-container.yaml', image: { locations: ['x'] } },
    })).toEqual([]);
  });
  it('checks the fields of the subtype named by kind', () => {
    const violations = checkDocument('ExecutionRequest', {
      executable: { kind: 'https://www.purl.org/ivoa.net/Calycopis-openapi/schema/v1.0/kinds/executable/docker-container.yaml', privileged: 'yes' },
    });
    expect(violations).toEqual([expect.objectContaining({ pointer: '/executable/privileged', keyword: 'type' })]);
  });
});
