import { describe, expect, it } from 'vitest';
import { CommandEncoder } from '../../main/engine/resp/commandEncoder.js';
import { ReplyParser } from '../../main/engine/resp/replyParser.js';
import { ReplyError, type Reply } from '../../main/engine/resp/reply.js';
import { crc16, keySlot, sameSlotName } from '../../main/engine/keys/hashSlot.js';
import { compileGlob } from '../../main/engine/filters/keyGlob.js';
import { CursorTracker } from '../../main/engine/readers/cursorTracker.js';
import { payloadType } from '../../main/engine/keys/keyTypes.js';

function parseAll(bytes: Buffer, chunkSize: number): Reply[] {
  const out: Reply[] = [];
  const parser = new ReplyParser((r) => out.push(r));
  for (let i = 0; i < bytes.length; i += chunkSize) parser.push(bytes.subarray(i, i + chunkSize));
  return out;
}

describe('RESP', () => {
  const wire = Buffer.concat([
    Buffer.from('+OK\r\n-BUSYKEY Target key name already exists.\r\n:-42\r\n$-1\r\n*-1\r\n$0\r\n\r\n'),
    Buffer.from('*3\r\n$3\r\n\x00\xff\r\r\n*2\r\n:1\r\n$2\r\nab\r\n*0\r\n*0\r\n', 'latin1'),
    Buffer.from(`$${300_000}\r\n`),
    Buffer.alloc(300_000, 7),
    Buffer.from('\r\n+after\r\n'),
  ]);

  for (const chunk of [1, 2, 3, 7, 64, 65536, wire.length]) {
    it(`parses replies split into ${chunk}-byte chunks`, () => {
      const replies = parseAll(wire, chunk);
      expect(replies).toHaveLength(10);
      expect(replies[0]).toBe('OK');
      expect(replies[1]).toBeInstanceOf(ReplyError);
      expect((replies[1] as ReplyError).code).toBe('BUSYKEY');
      expect(replies[2]).toBe(-42);
      expect(replies[3]).toBeNull();
      expect(replies[4]).toBeNull();
      expect(replies[5]).toEqual(Buffer.alloc(0));
      expect(replies[6]).toEqual([Buffer.from([0, 0xff, 0x0d]), [1, Buffer.from('ab')], []]);
      expect(replies[7]).toEqual([]);
      expect((replies[8] as Buffer).length).toBe(300_000);
      expect(replies[9]).toBe('after');
    });
  }

  it('encodes commands byte for byte, including large and binary arguments', () => {
    const enc = new CommandEncoder();
    const big = Buffer.alloc(100_000, 1);
    enc.encode(['SET', Buffer.from([0, 0xff]), 12, 'é']);
    enc.encode(['RESTORE', big]);
    const out = Buffer.concat(enc.take());
    const expected = Buffer.concat([
      Buffer.from('*4\r\n$3\r\nSET\r\n$2\r\n\x00\xff\r\n$2\r\n12\r\n$2\r\n\xc3\xa9\r\n', 'latin1'),
      Buffer.from('*2\r\n$7\r\nRESTORE\r\n$100000\r\n'),
      big,
      Buffer.from('\r\n'),
    ]);
    expect(out.equals(expected)).toBe(true);
    expect(enc.take()).toEqual([]);
  });
});

describe('hash slots', () => {
  it('matches Redis Cluster CRC16 and hash tags', () => {
    expect(crc16(Buffer.from('123456789'))).toBe(0x31c3);
    expect(keySlot(Buffer.from('foo'))).toBe(12182);
    expect(keySlot(Buffer.from('{user1000}.following'))).toBe(keySlot(Buffer.from('user1000')));
    expect(keySlot(Buffer.from('foo{}{bar}'))).toBe(keySlot(Buffer.from('foo{}{bar}')));
    expect(keySlot(Buffer.from('foo{}{bar}'))).not.toBe(keySlot(Buffer.from('bar')));
  });

  it('finds temp key names in the same slot for any key', () => {
    for (const k of ['', 'a', 'user:1', '{tag}rest', 'open{brace', 'x}y{z', '\u0000\u00ff']) {
      const key = Buffer.from(k, 'latin1');
      const temp = sameSlotName(key, ':ferry-tmp:');
      expect(keySlot(temp)).toBe(keySlot(key));
      expect(temp.subarray(0, key.length).equals(key)).toBe(true);
    }
  });
});

describe('key globs (Redis MATCH syntax, over bytes)', () => {
  const cases: Array<[string, string, boolean]> = [
    ['user:*', 'user:1', true],
    ['user:*', 'usr:1', false],
    ['user:?', 'user:12', false],
    ['user:[0-9]', 'user:7', true],
    ['user:[^0-9]', 'user:7', false],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['*:tmp:*', 'x:tmp:y', true],
    ['ключ:*', 'ключ:1', true],
    ['a/b*', 'a/b/c', true],
  ];
  for (const [pattern, key, match] of cases) {
    it(`${pattern} ${match ? 'matches' : 'does not match'} ${key}`, () => {
      expect(compileGlob(pattern).test(Buffer.from(key).toString('latin1'))).toBe(match);
    });
  }
});

describe('checkpoint cursor', () => {
  it('only advances past pages whose keys are all finished, in order', () => {
    const t = new CursorTracker('0');
    const p1 = t.openPage('17');
    const p2 = t.openPage('42');
    p1.hold();
    p1.seal();
    p2.hold();
    p2.seal();
    p2.release();
    expect(t.committed).toBe('0');
    p1.release();
    expect(t.committed).toBe('42');
    const last = t.openPage('0');
    last.seal();
    expect(t.complete).toBe(true);
  });
});

describe('payload types', () => {
  it('maps RDB type bytes to key types', () => {
    expect(payloadType(Buffer.from([0]))).toBe('string');
    expect(payloadType(Buffer.from([18]))).toBe('list');
    expect(payloadType(Buffer.from([20]))).toBe('set');
    expect(payloadType(Buffer.from([17]))).toBe('zset');
    expect(payloadType(Buffer.from([25]))).toBe('hash');
    expect(payloadType(Buffer.from([21]))).toBe('stream');
    expect(payloadType(Buffer.from([7]))).toBe('module');
    expect(payloadType(Buffer.from([99]))).toBe('unknown');
  });
});

