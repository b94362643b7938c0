// The replication stream parser: commands and their exact byte lengths, however the bytes are cut.
import { describe, expect, it } from 'vitest';
import { StreamParser, StreamProtocolError, type StreamCommand } from '../../main/engine/replication/streamParser.js';

/** RESP multibulk, as a master writes commands to its replicas. */
function encode(argv: Array<string | Buffer>): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${argv.length}\r\n`)];
  for (const a of argv) {
    const b = typeof a === 'string' ? Buffer.from(a) : a;
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

const BINARY = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x2a, 0x24, 0x0d, 0x0a, 0x80]);

/** A stream with every awkward case: binary args holding CRLF, '*' and '$', empty args, PING, GETACK. */
const COMMANDS: Array<Array<string | Buffer>> = [
  ['SELECT', '0'],
  ['SET', BINARY, BINARY],
  ['PING'],
  ['SET', '', ''],
  ['REPLCONF', 'GETACK', '*'],
  ['HSET', 'h', 'f1', 'v1', 'f2', Buffer.alloc(300, 7)],
  ['MULTI'],
  ['INCR', 'n'],
  ['EXEC'],
  ['DEL', Buffer.from('ключ')],
];
const STREAM = Buffer.concat(COMMANDS.map(encode));
const LENGTHS = COMMANDS.map((c) => encode(c).length);

/** Feeds the pieces and collects every command, pulling after each push (as the link does). */
function parseAll(pieces: Buffer[], parser = new StreamParser()): StreamCommand[] {
  const out: StreamCommand[] = [];
  for (const piece of pieces) {
    parser.push(piece);
    for (let c = parser.next(); c; c = parser.next()) out.push(c);
  }
  return out;
}

function expectCommands(got: StreamCommand[]): void {
  expect(got.map((c) => c.bytes)).toEqual(LENGTHS);
  got.forEach((c, i) => expect(c.argv).toEqual(COMMANDS[i].map((a) => (typeof a === 'string' ? Buffer.from(a) : a))));
  expect(got.reduce((n, c) => n + c.bytes, 0)).toBe(STREAM.length);
}

describe('StreamParser', () => {
  it('parses a whole stream in one chunk: argv as bytes, byte lengths summing to the stream', () => {
    const parser = new StreamParser();
    expectCommands(parseAll([STREAM], parser));
    expect(parser.idle).toBe(true);
  });

  it('gives the same commands when the stream is split in two at every byte boundary', () => {
    for (let cut = 0; cut <= STREAM.length; cut++) {
      expectCommands(parseAll([STREAM.subarray(0, cut), STREAM.subarray(cut)]));
    }
  });

  it('gives the same commands fed one byte at a time, and holds back a partial command', () => {
    const parser = new StreamParser();
    const got: StreamCommand[] = [];
    let fed = 0;
    for (let i = 0; i < STREAM.length; i++) {
      parser.push(STREAM.subarray(i, i + 1));
      fed++;
      for (let c = parser.next(); c; c = parser.next()) got.push(c);
      // Everything handed out so far is exactly a prefix of the stream.
      const done = got.reduce((n, c) => n + c.bytes, 0);
      expect(done).toBeLessThanOrEqual(fed);
      expect(parser.idle).toBe(done === fed);
    }
    expectCommands(got);
  });

  it('gives the same commands for random chunkings (three cuts anywhere)', () => {
    let seed = 12345;
    const rnd = (n: number) => ((seed = (seed * 1103515245 + 12345) % 2 ** 31), seed % n);
    for (let round = 0; round < 500; round++) {
      const cuts = [rnd(STREAM.length), rnd(STREAM.length), rnd(STREAM.length)].sort((a, b) => a - b);
      const pieces = [0, ...cuts].map((from, i) => STREAM.subarray(from, [...cuts, STREAM.length][i]));
      expectCommands(parseAll(pieces));
    }
  });

  it('does not hand out a command before its last byte, nor wait after it', () => {
    const parser = new StreamParser();
    const one = encode(['SET', 'k', 'v']);
    parser.push(one.subarray(0, one.length - 1));
    expect(parser.next()).toBeUndefined();
    parser.push(one.subarray(one.length - 1));
    expect(parser.next()?.bytes).toBe(one.length);
    expect(parser.next()).toBeUndefined();
  });

  it('counts an empty array (*0) with the next command, as Redis counts its offset', () => {
    const set = encode(['SET', 'k', 'v']);
    const got = parseAll([Buffer.from('*0\r\n'), set]);
    expect(got).toHaveLength(1);
    expect(got[0].bytes).toBe(4 + set.length);
  });

  it('joins a 32 MB argument arriving in 64 KB chunks once (linear, not quadratic), byte-exact', () => {
    const big = Buffer.alloc(32 * 1024 * 1024);
    for (let i = 0; i < big.length; i += 4096) big[i] = i % 251;
    const stream = Buffer.concat([encode(['SET', 'big', big]), encode(['PING'])]);
    const pieces: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 64 * 1024) pieces.push(stream.subarray(i, i + 64 * 1024));
    const t0 = performance.now();
    const got = parseAll(pieces);
    const ms = performance.now() - t0;
    expect(got).toHaveLength(2);
    expect(got[0].argv[2].equals(big)).toBe(true);
    expect(got[0].bytes + got[1].bytes).toBe(stream.length);
    // A quadratic join would copy ~8 TB here; linear is well under a second.
    expect(ms).toBeLessThan(3000);
  });

  it('parses a command of 200,000 arguments fed in 100-byte pieces without starting over', () => {
    const argv = ['RPUSH', 'list', ...Array.from({ length: 200_000 }, (_, i) => `item-${i}`)];
    const stream = encode(argv);
    const pieces: Buffer[] = [];
    for (let i = 0; i < stream.length; i += 100) pieces.push(stream.subarray(i, i + 100));
    const t0 = performance.now();
    const got = parseAll(pieces);
    expect(performance.now() - t0).toBeLessThan(3000);
    expect(got).toHaveLength(1);
    expect(got[0].argv.length).toBe(argv.length);
    expect(got[0].argv[200_001].toString()).toBe('item-199999');
    expect(got[0].bytes).toBe(stream.length);
  });

  it('refuses what is not a RESP command, naming the byte position', () => {
    const bad = (text: string | Buffer) => {
      const parser = new StreamParser();
      parser.push(typeof text === 'string' ? Buffer.from(text) : text);
      return () => {
        while (parser.next());
      };
    };
    const ping = encode(['PING']);
    expect(bad(Buffer.concat([ping, Buffer.from('+OK\r\n')]))).toThrow(/expected '\*' \(a command\), got '\+' at byte 14/);
    expect(bad('*1\r\n:5\r\n')).toThrow(/expected '\$' \(an argument\)/);
    expect(bad('*1\r\n$4\r\nPINGxx')).toThrow(/not followed by CRLF/);
    expect(bad('*x\r\n')).toThrow(/bad number/);
    expect(bad('*1\n')).toThrow(/malformed header/);
    expect(bad('*1\r\n$-1\r\n')).toThrow(/null argument/);
    expect(bad(`*1${'1'.repeat(40)}`)).toThrow(/no line end within 32 bytes/);
    expect(bad('*1\r\n$4\r\nPINGxx')).toThrow(StreamProtocolError);
  });

  it('refuses an argument over the configured limit before buffering it', () => {
    const parser = new StreamParser(1000);
    parser.push(Buffer.from('*2\r\n$3\r\nSET\r\n$1001\r\n'));
    expect(() => parser.next()).toThrow(/1001 bytes, over the limit of 1000/);
  });
});
