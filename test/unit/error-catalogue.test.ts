import { readFileSync } from 'node:fs';
import { ERROR_CODES } from '../../src/domain/errors.js';
import { ERROR_CATALOGUE } from '../../src/protocol/error-catalogue.js';

describe('the error catalogue', () => {
  const page = readFileSync(new URL('../../docs/errors.md', import.meta.url), 'utf8');

  it('documents every error code with its status in docs/errors.md', () => {
    for (const code of ERROR_CODES) {
      expect(page).toContain(`| \`${code}\` | ${ERROR_CATALOGUE[code].status} |`);
    }
  });

  it('maps client mistakes to 4xx and only our own failures (and a session server the proxy cannot reach, 502) to 5xx', () => {
    for (const code of ERROR_CODES) {
      const status = ERROR_CATALOGUE[code].status;
      expect(status >= 500).toBe(['internal-error', 'service-unavailable', 'identity-provider-unavailable', 'connector-unavailable'].includes(code));
    }
  });
});
