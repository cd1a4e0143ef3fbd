import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import type { Socket } from 'node:net';

/**
 * A small WebSocket client (RFC 6455: text frames, ping answered, no extensions) for talking to a
 * Jupyter kernel's channels: Node 20 has no WebSocket of its own, and the tests add no package.
 */
export interface TestWebSocket {
  send(text: string): void;
  /** The next text message for which `wanted` holds, within `ms`. */
  next(wanted: (text: string) => boolean, ms: number): Promise<string>;
  close(): void;
}

export function openWebSocket(url: string, headers: Record<string, string> = {}): Promise<TestWebSocket> {
  const key = randomBytes(16).toString('base64');
  const target = new URL(url.replace(/^ws/, 'http'));
  return new Promise((resolve, reject) => {
    const req = request(target, { headers: { ...headers, Connection: 'Upgrade', Upgrade: 'websocket', 'Sec-WebSocket-Key': key, 'Sec-WebSocket-Version': '13' } });
    req.once('response', (res) => reject(new Error(`no upgrade: ${res.statusCode}`)));
    req.once('error', reject);
    req.once('upgrade', (res, socket: Socket, head: Buffer) => {
      const accept = createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
      if (res.headers['sec-websocket-accept'] !== accept) { socket.destroy(); reject(new Error('bad Sec-WebSocket-Accept')); return; }
      resolve(client(socket, head));
    });
    req.end();
  });
}

function frame(opcode: number, payload: Buffer): Buffer {
  const mask = randomBytes(4);
  const length = payload.length;
  const header = length < 126 ? Buffer.from([0x80 | opcode, 0x80 | length])
    : length < 65536 ? Buffer.from([0x80 | opcode, 0x80 | 126, length >> 8, length & 255])
      : Buffer.concat([Buffer.from([0x80 | opcode, 0x80 | 127]), (() => { const b = Buffer.alloc(8); b.writeBigUInt64BE(BigInt(length)); return b; })()]);
  const masked = Buffer.from(payload.map((byte, i) => byte ^ (mask[i % 4] as number)));
  return Buffer.concat([header, mask, masked]);
}

function client(socket: Socket, head: Buffer): TestWebSocket {
  let buffer = head;
  let fragments: Buffer[] = [];
  const messages: string[] = [];
  let wake: (() => void) | undefined;
  socket.on('data', (chunk: Buffer) => {
    buffer = Buffer.concat([buffer, chunk]);
    for (;;) {
      if (buffer.length < 2) return;
      const fin = ((buffer[0] as number) & 0x80) !== 0;
      const opcode = (buffer[0] as number) & 0x0f;
      let length = (buffer[1] as number) & 0x7f;
      let at = 2;
      if (length === 126) { if (buffer.length < 4) return; length = buffer.readUInt16BE(2); at = 4; }
      if (length === 127) { if (buffer.length < 10) return; length = Number(buffer.readBigUInt64BE(2)); at = 10; }
      if (buffer.length < at + length) return;
      const payload = buffer.subarray(at, at + length);
      buffer = buffer.subarray(at + length);
      if (opcode === 9) { socket.write(frame(10, payload)); continue; }
      if (opcode === 8) { socket.end(); continue; }
      if (opcode === 1 || opcode === 2 || opcode === 0) {
        fragments.push(Buffer.from(payload));
        if (fin) { messages.push(Buffer.concat(fragments).toString('utf8')); fragments = []; wake?.(); }
      }
    }
  });
  return {
    send: (text) => { socket.write(frame(1, Buffer.from(text, 'utf8'))); },
    async next(wanted, ms) {
      const end = Date.now() + ms;
      for (;;) {
        const index = messages.findIndex(wanted);
        if (index >= 0) return messages.splice(index, 1)[0] as string;
        if (Date.now() > end) throw new Error(`no such message within ${ms} ms (${messages.length} others)`);
        await new Promise<void>((r) => { wake = r; setTimeout(r, 100); });
      }
    },
    close: () => { socket.write(frame(8, Buffer.alloc(0))); socket.end(); },
  };
}
