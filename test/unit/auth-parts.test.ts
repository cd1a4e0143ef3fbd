import { randomBytes } from 'node:crypto';
import { principalFromClaims } from '../../src/auth/principal-from-claims.js';
import { TokenCipher } from '../../src/auth/token-cipher.js';
import type { OidcSettings } from '../../src/domain/auth-settings.js';
import { BrokerError } from '../../src/domain/errors.js';
import { decideAccess } from '../../src/domain/ownership.js';
import { ANONYMOUS } from '../../src/domain/principal.js';
import { SecretToken } from '../../src/domain/secret-token.js';

const settings: OidcSettings = {
  issuer: 'https://iam.example', audience: 'broker', requiredScopes: ['eb:use'], groupsClaim: 'groups',
  operatorGroup: 'ska/operators', requiredGroups: [], introspection: false, clockToleranceSeconds: 0, jwksCooldownMs: 30_000,
};
const token = new SecretToken('eyJ.secret.value', 0);
const codeOf = (run: () => unknown): string | undefined => {
  try { run(); return undefined; } catch (error) { return (error as BrokerError).code; }
};

describe('sealing tokens (AES-256-GCM)', () => {
  const cipher = new TokenCipher(randomBytes(32));

  it('opens what it sealed for the same session, and the sealed text does not contain the token', () => {
    const sealed = cipher.seal('the-token-value', 'session-1');
    expect(sealed).not.toContain('the-token-value');
    expect(cipher.open(sealed, 'session-1')).toBe('the-token-value');
    expect(cipher.seal('the-token-value', 'session-1')).not.toBe(sealed); // a fresh IV each time
  });

  it('does not open for another session, with another key, or once altered', () => {
    const sealed = cipher.seal('the-token-value', 'session-1');
    expect(cipher.open(sealed, 'session-2')).toBeUndefined();
    expect(new TokenCipher(randomBytes(32)).open(sealed, 'session-1')).toBeUndefined();
    const [version, iv, body, tag] = sealed.split(':') as [string, string, string, string];
    const flipped = Buffer.from(body, 'base64url');
    flipped[0] = (flipped[0] ?? 0) ^ 1;
    expect(cipher.open([version, iv, flipped.toString('base64url'), tag].join(':'), 'session-1')).toBeUndefined();
    expect(cipher.open('garbage', 'session-1')).toBeUndefined();
  });

  it('refuses a key that is not 32 bytes', () => {
    expect(() => new TokenCipher(randomBytes(16))).toThrow(/32 bytes/);
  });
});

describe('a secret token', () => {
  it('says nothing of its value when printed or serialised', () => {
    const secret = new SecretToken('abc.def.ghi', 5);
    expect(`${secret}`).toBe('[redacted token]');
    expect(JSON.stringify({ secret })).toBe('{"secret":"[redacted token]"}');
    expect(JSON.stringify(secret)).not.toContain('abc');
    expect(secret.reveal()).toBe('abc.def.ghi');
  });
});

describe('principals from verified claims', () => {
  it('takes the subject, and makes an operator of the operator group (IAM writes /ska/operators too)', () => {
    expect(principalFromClaims({ sub: 'a1', scope: 'openid eb:use' }, settings, token)).toMatchObject({ subject: 'a1', authenticated: true, operator: false });
    expect(principalFromClaims({ sub: 'o1', scope: 'eb:use', groups: ['/ska', '/ska/operators'] }, settings, token).operator).toBe(true);
  });

  it('reads scopes from scope or scp, and groups from a literal dotted claim name or a nested path', () => {
    expect(principalFromClaims({ sub: 'a', scp: ['eb:use'] }, settings, token).subject).toBe('a');
    const wlcg = { ...settings, groupsClaim: 'wlcg.groups' };
    expect(principalFromClaims({ sub: 'a', scope: 'eb:use', 'wlcg.groups': ['/ska/operators'] }, wlcg, token).operator).toBe(true);
    expect(principalFromClaims({ sub: 'a', scope: 'eb:use', wlcg: { groups: 'ska/operators' } }, wlcg, token).operator).toBe(true);
  });

  it('refuses a missing scope (403), a subject outside the required groups (403), and unusable subjects (401)', () => {
    expect(codeOf(() => principalFromClaims({ sub: 'a', scope: 'openid' }, settings, token))).toBe('insufficient-scope');
    const grouped = { ...settings, requiredGroups: ['/ska'] };
    expect(codeOf(() => principalFromClaims({ sub: 'a', scope: 'eb:use', groups: ['other'] }, grouped, token))).toBe('insufficient-group');
    expect(codeOf(() => principalFromClaims({ sub: 'a', scope: 'eb:use', groups: ['ska'] }, grouped, token))).toBeUndefined();
    expect(codeOf(() => principalFromClaims({ sub: 'o', scope: 'eb:use', groups: ['ska/operators'] }, grouped, token))).toBeUndefined();
    for (const sub of [undefined, '', 'has space', 'line\nbreak', 'anonymous', 42]) {
      expect(codeOf(() => principalFromClaims({ sub, scope: 'eb:use' }, settings, token))).toBe('invalid-token');
    }
  });
});

describe('ownership', () => {
  const alice = { subject: 'alice', authenticated: true, operator: false };
  const olga = { subject: 'olga', authenticated: true, operator: true };

  it('lets owners do everything, operators read and cancel, and hides records from everyone else', () => {
    expect(['read', 'cancel', 'change'].map((access) => decideAccess(alice, 'alice', access as never))).toEqual(['allowed', 'allowed', 'allowed']);
    expect(['read', 'cancel', 'change'].map((access) => decideAccess(alice, 'bob', access as never))).toEqual(['hidden', 'hidden', 'hidden']);
    expect(['read', 'cancel', 'change'].map((access) => decideAccess(olga, 'bob', access as never))).toEqual(['allowed', 'allowed', 'refused']);
  });

  it('in anonymous mode, the anonymous principal owns what it made and nothing else', () => {
    expect(decideAccess(ANONYMOUS, 'anonymous', 'change')).toBe('allowed');
    expect(decideAccess(ANONYMOUS, 'alice', 'read')).toBe('hidden');
  });
});
