/**
 * Where the broker may connect when it fetches something for a user (staging data): not to the
 * machine it runs on, nor to the networks behind it. Pure: the addresses are decided here, the
 * connections are guarded by sites/egress-guard.ts, which looks up names and checks every address
 * a connection would really use, redirects included.
 *
 * An address is 4 (IPv4) or 16 (IPv6) bytes. IPv6 forms that carry an IPv4 address (mapped
 * `::ffff:a.b.c.d`, compatible `::a.b.c.d`, NAT64 `64:ff9b::a.b.c.d`) are judged as that address.
 */
export type Address = number[];

/** What a site lets through on top of the public internet, and what it never lets through. */
export interface EgressPolicy {
  /** Host names (exact, any case), addresses or CIDR blocks the site allows although refused by default. */
  allow: readonly string[];
  /** The broker's own listening sockets: refused whatever `allow` says. */
  ownSockets?: ReadonlyArray<{ address: string; port: number }>;
  /** The addresses of the machine the broker runs on: refused unless allowed. */
  ownAddresses?: readonly string[];
}

/** IPv4 blocks refused by default, by what they are. */
const V4_RANGES: Array<[string, string]> = [
  ['0.0.0.0/8', 'an unspecified ("this network") address'],
  ['10.0.0.0/8', 'a private address'],
  ['100.64.0.0/10', 'a shared (CGNAT) address'],
  ['127.0.0.0/8', 'a loopback address'],
  ['169.254.0.0/16', 'a link-local address'],
  ['172.16.0.0/12', 'a private address'],
  ['192.0.0.0/24', 'an IETF protocol address'],
  ['192.168.0.0/16', 'a private address'],
  ['198.18.0.0/15', 'a benchmarking address'],
  ['224.0.0.0/4', 'a multicast address'],
  ['240.0.0.0/4', 'a reserved or broadcast address'],
];
const V6_RANGES: Array<[string, string]> = [
  ['::/128', 'an unspecified address'],
  ['::1/128', 'a loopback address'],
  ['fe80::/10', 'a link-local address'],
  ['fec0::/10', 'a site-local address'],
  ['fc00::/7', 'a unique-local address'],
  ['ff00::/8', 'a multicast address'],
];

function parseV4(text: string): Address | undefined {
  const parts = text.split('.');
  if (parts.length !== 4 || !parts.every((part) => /^(0|[1-9]\d{0,2})$/.test(part) && Number(part) <= 255)) return undefined;
  return parts.map(Number);
}

function parseV6(text: string): Address | undefined {
  let body = text;
  let tail: number[] = [];
  const dotted = /^(.*:)(\d+\.\d+\.\d+\.\d+)$/.exec(body);
  if (dotted) {
    const v4 = parseV4(dotted[2] ?? '');
    if (!v4) return undefined;
    tail = [((v4[0] ?? 0) << 8) | (v4[1] ?? 0), ((v4[2] ?? 0) << 8) | (v4[3] ?? 0)];
    const prefix = dotted[1] ?? '';
    body = prefix.endsWith('::') ? prefix : prefix.slice(0, -1);
  }
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const groups = (part: string | undefined): number[] | undefined => {
    if (!part) return [];
    const out = part.split(':').map((group) => (/^[0-9a-f]{1,4}$/i.test(group) ? parseInt(group, 16) : NaN));
    return out.some(Number.isNaN) ? undefined : out;
  };
  const head = groups(halves[0]);
  const rest = groups(halves[1]);
  if (!head || !rest) return undefined;
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return undefined;
  const words = [...head, ...Array<number>(8 - known).fill(0), ...rest, ...tail];
  return words.flatMap((word) => [word >> 8, word & 0xff]);
}

/** An IPv4 or IPv6 address (IPv6 with or without brackets), or undefined. */
export function parseAddress(text: string): Address | undefined {
  const bare = text.startsWith('[') && text.endsWith(']') ? text.slice(1, -1) : text;
  return bare.includes(':') ? parseV6(bare.replace(/%.*$/, '')) : parseV4(bare);
}

/** The IPv4 address an IPv6 address carries (mapped, compatible, NAT64), or the address itself. */
function unwrapped(address: Address): Address {
  if (address.length !== 16) return address;
  const zeros = (from: number, to: number): boolean => address.slice(from, to).every((byte) => byte === 0);
  const v4 = address.slice(12);
  if (zeros(0, 10) && address[10] === 0xff && address[11] === 0xff) return v4;
  if (zeros(0, 12) && !(zeros(12, 15) && (address[15] ?? 0) <= 1)) return v4; // ::a.b.c.d, but not :: or ::1
  if (address[0] === 0 && address[1] === 0x64 && address[2] === 0xff && address[3] === 0x9b && zeros(4, 12)) return v4;
  return address;
}

interface Block { base: Address; bits: number }

function parseBlock(text: string): Block | undefined {
  const [addressText = '', bitsText] = text.split('/');
  const base = parseAddress(addressText);
  if (!base) return undefined;
  const bits = bitsText === undefined ? base.length * 8 : /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : NaN;
  if (!(bits >= 0 && bits <= base.length * 8)) return undefined;
  return { base, bits };
}

function inBlock(address: Address, block: Block): boolean {
  if (address.length !== block.base.length) return false;
  for (let bit = 0; bit < block.bits; bit += 8) {
    const mask = (0xff << (8 - Math.min(8, block.bits - bit))) & 0xff;
    if (((address[bit / 8] ?? 0) & mask) !== ((block.base[bit / 8] ?? 0) & mask)) return false;
  }
  return true;
}

const RANGES = [...V4_RANGES, ...V6_RANGES].map(([cidr, what]) => ({ block: parseBlock(cidr) as Block, what }));

/** What makes an address refused by default (`a loopback address`, ...), or undefined for a public one. */
export function reservedRange(address: Address): string | undefined {
  const plain = unwrapped(address);
  return RANGES.find((range) => inBlock(plain, range.block))?.what;
}

const sameAddress = (a: Address, b: Address): boolean => a.length === b.length && a.every((byte, i) => byte === b[i]);

/** Why an allow-list entry is not a host name, address or CIDR block, or undefined when it is one. */
export function allowEntryProblem(entry: string): string | undefined {
  if (entry.includes('/') || parseAddress(entry)) return parseBlock(entry) ? undefined : `${entry} is not an address or CIDR block`;
  return /^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(entry) ? undefined : `${entry} is not a host name, address or CIDR block`;
}

/**
 * Why connecting to `address` (and `port`) for the URL host `host` is refused, or undefined when it
 * is allowed. The broker's own sockets are refused always; an allowed host or block comes next;
 * then the reserved ranges and the machine's own addresses are refused.
 */
export function egressRefusal(policy: EgressPolicy, host: string, address: Address, port?: number): string | undefined {
  const plain = unwrapped(address);
  const shown = host.replace(/^\[|\]$/g, '');
  const matches = (text: string): boolean => { const other = parseAddress(text); return other !== undefined && sameAddress(unwrapped(other), plain); };
  if (port !== undefined && (policy.ownSockets ?? []).some((socket) => socket.port === port && matches(socket.address))) {
    return `${shown} port ${port} is the broker's own service`;
  }
  const name = shown.toLowerCase().replace(/\.$/, '');
  const allowed = policy.allow.some((entry) => {
    if (entry.toLowerCase() === name) return true;
    const block = allowEntryProblem(entry) === undefined && (entry.includes('/') || parseAddress(entry)) ? parseBlock(entry) : undefined;
    return block !== undefined && (inBlock(plain, block) || inBlock(address, block));
  });
  if (allowed) return undefined;
  const range = reservedRange(address);
  const target = parseAddress(shown) ? shown : `${shown} (${formatAddress(address)})`;
  if (range) return `${target} is ${range}`;
  if ((policy.ownAddresses ?? []).some(matches)) return `${target} is an address of the broker's own machine`;
  return undefined;
}

/** An address as text: dotted IPv4, or IPv6 with its longest run of zero groups as `::`. */
export function formatAddress(address: Address): string {
  if (address.length === 4) return address.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push((((address[i] ?? 0) << 8) | (address[i + 1] ?? 0)).toString(16));
  const zeros = words.join(':').match(/(^|:)0(:0)+(:|$)/g) ?? [];
  const longest = zeros.sort((a, b) => b.length - a.length)[0];
  return longest ? words.join(':').replace(longest, '::') : words.join(':');
}

/**
 * For negotiation: why a URL is refused when that can be told without looking anything up (its
 * host is an address, in any spelling a URL parser accepts), else undefined.
 */
export function urlRefusal(policy: EgressPolicy, url: string): string | undefined {
  let parsed: URL;
  // WebDAV is HTTP: dav:// read as http, davs:// as https (so that every spelling of an address is parsed as HTTP's).
  try { parsed = new URL(url.replace(/^dav(s?):\/\//i, (_all, s: string) => `http${s.toLowerCase()}://`)); } catch { return undefined; }
  if (!/^https?:$/.test(parsed.protocol)) return undefined;
  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  const literal = parseAddress(parsed.hostname);
  return literal ? egressRefusal(policy, parsed.hostname, literal, port) : undefined;
}
