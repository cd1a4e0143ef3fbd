import { allowEntryProblem, egressRefusal, formatAddress, parseAddress, reservedRange, urlRefusal } from '../../src/domain/egress-policy.js';

const refusal = (url: string, allow: string[] = []): string | undefined => urlRefusal({ allow }, url);

describe('the egress policy', () => {
  it('reads IPv4 and IPv6 addresses, and nothing else', () => {
    expect(parseAddress('127.0.0.1')).toEqual([127, 0, 0, 1]);
    expect(parseAddress('[::1]')).toEqual([...Array(15).fill(0), 1]);
    expect(parseAddress('::ffff:10.0.0.1')?.slice(10)).toEqual([255, 255, 10, 0, 0, 1]);
    expect(parseAddress('fe80::1%eth0')?.slice(0, 2)).toEqual([0xfe, 0x80]);
    for (const bad of ['1.2.3', '1.2.3.256', '01.2.3.4', 'example.org', '1::2::3', '1:2:3:4:5:6:7:8:9', '']) expect(parseAddress(bad)).toBeUndefined();
  });

  it('names the reserved range an address is in, IPv4 carried in IPv6 included', () => {
    const cases: Array<[string, string | undefined]> = [
      ['127.0.0.1', 'a loopback address'], ['::1', 'a loopback address'], ['0.0.0.0', 'an unspecified ("this network") address'], ['::', 'an unspecified address'],
      ['169.254.169.254', 'a link-local address'], ['fe80::1', 'a link-local address'], ['10.0.0.1', 'a private address'], ['172.31.255.255', 'a private address'],
      ['192.168.1.1', 'a private address'], ['100.64.0.1', 'a shared (CGNAT) address'], ['fd12:3456::1', 'a unique-local address'], ['fc00::1', 'a unique-local address'],
      ['224.0.0.1', 'a multicast address'], ['ff02::1', 'a multicast address'], ['255.255.255.255', 'a reserved or broadcast address'],
      ['::ffff:127.0.0.1', 'a loopback address'], ['::ffff:7f00:1', 'a loopback address'], ['::ffff:169.254.169.254', 'a link-local address'], ['::10.0.0.1', 'a private address'],
      ['64:ff9b::a00:1', 'a private address'], ['8.8.8.8', undefined], ['172.32.0.1', undefined], ['2001:db8::1', undefined], ['::ffff:8.8.8.8', undefined],
    ];
    for (const [text, range] of cases) expect([text, reservedRange(parseAddress(text)!)]).toEqual([text, range]);
  });

  it('refuses, at negotiation, URLs whose host is a reserved address in any spelling a URL may use', () => {
    expect(refusal('http://127.0.0.1:8080/x')).toBe('127.0.0.1 is a loopback address');
    expect(refusal('http://0x7f000001:8080/')).toBe('127.0.0.1 is a loopback address');
    expect(refusal('http://2130706433/')).toBe('127.0.0.1 is a loopback address');
    expect(refusal('http://0177.0.0.1/')).toBe('127.0.0.1 is a loopback address');
    expect(refusal('http://127.1/')).toBe('127.0.0.1 is a loopback address');
    expect(refusal('http://[::ffff:127.0.0.1]/')).toBe('::ffff:7f00:1 is a loopback address');
    expect(refusal('http://[::1]:9/')).toBe('::1 is a loopback address');
    expect(refusal('http://169.254.169.254/latest/meta-data')).toBe('169.254.169.254 is a link-local address');
    expect(refusal('https://10.0.0.1/x')).toBe('10.0.0.1 is a private address');
    // Names are looked up when connecting, not here; other schemes are not this policy's.
    expect(refusal('http://localhost/x')).toBeUndefined();
    expect(refusal('https://8.8.8.8/x')).toBeUndefined();
    expect(refusal('file:///etc/passwd')).toBeUndefined();
  });

  it('lets through what a site allows by address, block or name, but never the broker\'s own socket', () => {
    expect(refusal('http://127.0.0.1:8080/x', ['127.0.0.1'])).toBeUndefined();
    expect(refusal('http://0x7f000001/', ['127.0.0.0/8'])).toBeUndefined();
    expect(refusal('http://[::ffff:127.0.0.1]/', ['127.0.0.1'])).toBeUndefined();
    expect(refusal('http://127.0.0.2/', ['127.0.0.1'])).toBe('127.0.0.2 is a loopback address');
    expect(refusal('http://10.1.2.3/', ['10.1.0.0/16'])).toBeUndefined();
    expect(refusal('http://10.2.0.1/', ['10.1.0.0/16'])).toBe('10.2.0.1 is a private address');
    const policy = { allow: ['127.0.0.0/8', 'data.internal'], ownSockets: [{ address: '127.0.0.1', port: 8080 }], ownAddresses: ['192.0.2.7'] };
    expect(egressRefusal(policy, '127.0.0.1', parseAddress('127.0.0.1')!, 8080)).toBe('127.0.0.1 port 8080 is the broker\'s own service');
    expect(egressRefusal(policy, '[::ffff:7f00:1]', parseAddress('::ffff:7f00:1')!, 8080)).toBe('::ffff:7f00:1 port 8080 is the broker\'s own service');
    expect(egressRefusal(policy, '127.0.0.1', parseAddress('127.0.0.1')!, 8081)).toBeUndefined();
    expect(egressRefusal(policy, 'Data.Internal', parseAddress('10.9.9.9')!, 80)).toBeUndefined();
    expect(egressRefusal(policy, 'other.internal', parseAddress('10.9.9.9')!, 80)).toBe('other.internal (10.9.9.9) is a private address');
    expect(egressRefusal(policy, 'me.example', parseAddress('192.0.2.7')!, 80)).toBe('me.example (192.0.2.7) is an address of the broker\'s own machine');
  });

  it('checks the entries of an allow-list', () => {
    for (const good of ['127.0.0.1', '10.0.0.0/8', '::1', 'fd00::/8', 'data.example.org', 'localhost']) expect(allowEntryProblem(good)).toBeUndefined();
    for (const bad of ['10.0.0.0/33', '::1/129', 'not a host', '1.2.3.4/x', 'http://x']) expect(allowEntryProblem(bad)).toMatch(/is not/);
  });
});

describe('addresses in messages', () => {
  it('are written as people write them', () => {
    expect(formatAddress([10, 0, 0, 1])).toBe('10.0.0.1');
    for (const text of ['::1', '::', 'fe80::1', '2001:db8::8:0:0:1', '2001:db8:0:1:1:1:1:1', '1::']) expect(formatAddress(parseAddress(text)!)).toBe(text);
  });
});
