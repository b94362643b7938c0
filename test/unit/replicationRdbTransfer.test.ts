// The RDB payload of a full resync, framed as `$<size>` or diskless `$EOF:<mark>`, read from a byte
// stream cut at every boundary; keepalive newlines before it are skipped, bytes after it are kept.
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { RdbTransfer, readRdbFraming } from '../../main/engine/replication/rdbTransfer.js';
import { ReplicationError } from '../../main/engine/replication/replicationError.js';
import { SocketReader } from '../../main/engine/replication/socketReader.js';

const MARK = Buffer.from('0123456789abcdef0123456789abcdef01234567');
/** A payload that contains a near-copy of the mark and CRLFs, so a sloppy scan would stop early. */
const PAYLOAD = Buffer.concat([Buffer.from('REDIS0010'), MARK.subarray(0, 39), Buffer.from('\r\n\n$EOF:'), Buffer.alloc(200, 0xab), MARK.subarray(1)]);
const AFTER = Buffer.from('*1\r\n$4\r\nPING\r\n');

function readerOf(stream: PassThrough, idleMs = 0): SocketReader {
  return new SocketReader(stream, idleMs, {
    idle: () => new ReplicationError('timeout', 'test', 'silent'),
    end: (cause) => new ReplicationError('closed', 'test', `ended${cause ? ` (${cause.message})` : ''}`),
  });
}

/** Writes the pieces one per event-loop turn, so the reader sees them as separate chunks. */
async function feed(stream: PassThrough, pieces: Buffer[], end = true): Promise<void> {
  for (const p of pieces) {
    if (p.length) stream.write(p);
    await new Promise((r) => setImmediate(r));
  }
  if (end) stream.end();
}

async function transfer(wire: Buffer, cuts: number[]): Promise<{ payload: Buffer; rest: Buffer; size: number | null; acked: number }> {
  const stream = new PassThrough();
  const reader = readerOf(stream);
  const bounds = [0, ...cuts, wire.length];
  const feeding = feed(stream, bounds.slice(1).map((to, i) => wire.subarray(bounds[i], to)));
  const framing = await readRdbFraming(reader, 'test');
  let acked = 0;
  const t = new RdbTransfer(reader, framing, () => acked++);
  const chunks: Buffer[] = [];
  for await (const c of t.chunks()) chunks.push(Buffer.from(c));
  expect(t.done).toBe(true);
  const rest: Buffer[] = [];
  await feeding;
  for (let c = await reader.read(); c; c = await reader.read()) rest.push(c);
  return { payload: Buffer.concat(chunks), rest: Buffer.concat(rest), size: 'size' in framing ? framing.size : null, acked };
}

describe('RDB transfer framing', () => {
  const sized = Buffer.concat([Buffer.from('\n\n\n'), Buffer.from(`$${PAYLOAD.length}\r\n`), PAYLOAD, AFTER]);
  const marked = Buffer.concat([Buffer.from('\n\n'), Buffer.from(`$EOF:${MARK}\r\n`), PAYLOAD, MARK]);

  it('$<size>: skips the keepalive newlines, gives the payload exactly, leaves the stream after it (every cut)', async () => {
    for (let cut = 0; cut <= sized.length; cut += 3) {
      const got = await transfer(sized, [cut]);
      expect(got.size).toBe(PAYLOAD.length);
      expect(got.payload.equals(PAYLOAD)).toBe(true);
      expect(got.rest.equals(AFTER)).toBe(true);
      expect(got.acked).toBe(1);
    }
  });

  it('$EOF:<mark>: the payload ends at the mark, the mark is not part of it (every cut, and two cuts)', async () => {
    for (let cut = 0; cut <= marked.length; cut++) {
      const got = await transfer(marked, [cut]);
      expect(got.size).toBeNull();
      expect(got.payload.equals(PAYLOAD)).toBe(true);
      expect(got.rest.length).toBe(0);
      expect(got.acked).toBe(1);
    }
    for (let a = 40; a < marked.length; a += 7) {
      for (const b of [a + 1, a + 20, a + 39, a + 41]) {
        if (b > marked.length) continue;
        const got = await transfer(marked, [a, b]);
        expect(got.payload.equals(PAYLOAD)).toBe(true);
      }
    }
  });

  it('$EOF byte by byte', async () => {
    const got = await transfer(marked, Array.from({ length: marked.length - 1 }, (_, i) => i + 1));
    expect(got.payload.equals(PAYLOAD)).toBe(true);
  });

  it('an empty RDB ($0) ends at once', async () => {
    const got = await transfer(Buffer.concat([Buffer.from('$0\r\n'), AFTER]), []);
    expect(got.payload.length).toBe(0);
    expect(got.rest.equals(AFTER)).toBe(true);
  });

  it('a stream that ends inside the payload is a closed error, not a short RDB', async () => {
    const stream = new PassThrough();
    const reader = readerOf(stream);
    void feed(stream, [Buffer.from(`$${PAYLOAD.length}\r\n`), PAYLOAD.subarray(0, 50)]);
    const t = new RdbTransfer(reader, await readRdbFraming(reader, 'test'), () => undefined);
    await expect(async () => {
      for await (const c of t.chunks()) void c;
    }).rejects.toThrow(/ended/);
  });

  it('an error line instead of the RDB is a typed refusal; a line that is no header is a protocol error', async () => {
    const refuse = async (line: string) => {
      const stream = new PassThrough();
      const reader = readerOf(stream);
      void feed(stream, [Buffer.from(line)], false);
      return readRdbFraming(reader, 'source s (h:1)', "ERR unknown command 'PSYNC'").catch((e: unknown) => e as ReplicationError);
    };
    const refused = await refuse("\n-ERR unknown command 'SYNC', with args beginning with: \r\n");
    expect(refused).toBeInstanceOf(ReplicationError);
    expect((refused as ReplicationError).kind).toBe('refused');
    expect((refused as ReplicationError).message).toMatch(/^source s \(h:1\): the server refuses replication \(SYNC: .*PSYNC was refused first.*stage: direct/);
    expect(((await refuse('+OK\r\n')) as ReplicationError).kind).toBe('protocol');
    expect(((await refuse('$EOF:short\r\n')) as ReplicationError).kind).toBe('protocol');
  });

  it('a silent stream while bytes are wanted is a timeout; none while nobody reads', async () => {
    const stream = new PassThrough();
    const reader = readerOf(stream, 150);
    await new Promise((r) => setTimeout(r, 300));
    stream.write('$5\r\n');
    const started = Date.now();
    await expect(readRdbFraming(reader, 'test')).resolves.toEqual({ size: 5 });
    await expect(reader.read()).rejects.toThrow(/silent/);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
  });
});
