/**
 * Adler-32 (RFC 1950), the checksum Rucio and SRCNet's storage record for every file, as a running
 * hash with `update` and `digest('hex')` like node:crypto's (8 hex digits, zero-padded).
 */
export class Adler32 {
  private a = 1;
  private b = 0;

  update(chunk: Uint8Array): this {
    let { a, b } = this;
    // 5552 bytes is the most that can be summed before b could pass 2^53 (zlib's NMAX is for 32 bits).
    for (let start = 0; start < chunk.length; start += 5552) {
      const end = Math.min(chunk.length, start + 5552);
      for (let i = start; i < end; i++) {
        a += chunk[i]!;
        b += a;
      }
      a %= 65521;
      b %= 65521;
    }
    this.a = a;
    this.b = b;
    return this;
  }

  digest(_encoding: 'hex'): string {
    return ((this.b * 65536 + this.a) >>> 0).toString(16).padStart(8, '0');
  }
}
