import { problemFormat, requestFormat, responseFormat } from '../../src/protocol/media-types.js';

describe('content negotiation', () => {
  it.each([
    ['application/json', 'json'], ['application/json; charset=utf-8', 'json'], ['application/xml', 'xml'], ['text/xml', 'xml'],
    ['application/yaml', 'yaml'], ['text/yaml', 'yaml'], ['application/x-yaml', 'yaml'], ['application/vnd.example+yaml', 'yaml'],
    [undefined, 'yaml'],
  ])('decodes a %s body as %s', (type, format) => {
    expect(requestFormat(type)).toBe(format);
  });

  it('refuses unknown types and charsets with 415', () => {
    expect(() => requestFormat('text/plain')).toThrow(expect.objectContaining({ code: 'unsupported-media-type' }));
    expect(() => requestFormat('application/json; charset=latin1')).toThrow(expect.objectContaining({ code: 'unsupported-media-type' }));
  });

  it.each([
    [undefined, 'application/json'], ['*/*', 'application/json'], ['application/*', 'application/json'],
    ['application/xml', 'application/xml'], ['text/*', 'text/xml'], ['application/yaml;q=0.9, application/xml;q=0.8', 'application/yaml'],
    ['application/json;q=0, */*;q=0.1', 'application/xml'], ['text/yaml', 'text/yaml'], ['application/xml;q=0.2, */*', 'application/json'],
  ])('answers Accept %s with %s', (accept, mediaType) => {
    expect(responseFormat(accept).mediaType).toBe(mediaType);
  });

  it('refuses an Accept nothing matches with 406, but still writes problems', () => {
    expect(() => responseFormat('text/html, image/png')).toThrow(expect.objectContaining({ code: 'not-acceptable' }));
    expect(problemFormat('text/html')).toEqual({ format: 'json', mediaType: 'application/problem+json' });
    expect(problemFormat('application/problem+xml')).toEqual({ format: 'xml', mediaType: 'application/problem+xml' });
  });
});
