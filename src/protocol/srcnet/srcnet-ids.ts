/**
 * Provision and job ids: the session's uuid (122 random bits, so unguessable) written as 22
 * base64url characters, with the prototype's `.prov` and `.job` endings. Clients treat them as
 * opaque; who may use one is the session's owner, checked by the engine.
 */
const UUID = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;
const TOKEN = /^([A-Za-z0-9_-]{22})\.(prov|job)$/;

function token(uuid: string): string {
  const match = UUID.exec(uuid.toLowerCase());
  if (!match) throw new Error(`not a uuid: ${uuid}`);
  return Buffer.from(match.slice(1).join(''), 'hex').toString('base64url');
}

export const provisionId = (sessionUuid: string): string => `${token(sessionUuid)}.prov`;
export const jobId = (sessionUuid: string): string => `${token(sessionUuid)}.job`;

/** The session a provision id names; undefined for anything that is not one. */
export function sessionOfProvision(id: string): string | undefined {
  const match = TOKEN.exec(id);
  if (!match?.[1] || match[2] !== 'prov') return undefined;
  const hex = Buffer.from(match[1], 'base64url').toString('hex');
  if (hex.length !== 32 || Buffer.from(hex, 'hex').toString('base64url') !== match[1]) return undefined;
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
