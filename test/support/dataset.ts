import { RedisConnection } from '../../main/engine/resp/connection.js';
import type { Arg } from '../../main/engine/resp/commandEncoder.js';

/** A pipelined connection to a test server on 127.0.0.1, in the given db. */
export async function connectTo(port: number, db = 0, password?: string): Promise<RedisConnection> {
  const conn = await RedisConnection.connect({ host: '127.0.0.1', port, label: `test :${port}` });
  if (password) await conn.call('AUTH', password);
  if (db) await conn.call('SELECT', db);
  return conn;
}

/** Sends commands pipelined and waits for all replies; any error reply fails the test. */
export async function sendAll(conn: RedisConnection, commands: Arg[][]): Promise<void> {
  await Promise.all(commands.map((args) => conn.call(...args)));
}

export const BINARY_KEY = Buffer.from([0x00, 0xff, 0x10, 0x0a, 0x0d, 0x80, 0x00]);
export const BINARY_VALUE = Buffer.from([0xff, 0x00, 0xfe, 0x01, 0x0d, 0x0a]);
export const UNICODE_KEY = 'ключ:東京:🚀';
/** 16 MB: a huge value through the whole pipeline. */
export const HUGE_BYTES = 16 * 1024 * 1024;

/**
 * Every type and awkward case in one db: strings (int, empty, binary, unicode, huge, an empty
 * key name), lists, sets (intset and strings), zsets (inf, -inf, negative, fractional), hashes,
 * streams (deleted entries, two groups, pending entries with delivery counts, a consumer without
 * pending entries, an empty stream with a group), and keys with TTLs. `tag` varies the values.
 */
export function everyTypeCommands(prefix = '', tag = 'v1'): Arg[][] {
  const k = (name: string) => `${prefix}${name}`;
  const cmds: Arg[][] = [
    ['SET', k('str:plain'), `hello ${tag}`],
    ['SET', k('str:int'), '123456789'],
    ['SET', k('str:negative'), '-42'],
    ['SET', k('str:empty'), ''],
    ['SET', Buffer.concat([Buffer.from(prefix), BINARY_KEY]), BINARY_VALUE],
    ['SET', k(UNICODE_KEY), `значение ✓ ${tag}`],
    ['SET', k('str:huge'), Buffer.alloc(HUGE_BYTES, `huge-${tag}-`)],
    ['SET', k('str:ttl'), 'expiring', 'PX', 3_600_000],
    ['RPUSH', k('list:small'), 'a', 'b', '', 'd', tag],
    ['RPUSH', k('list:big'), ...Array.from({ length: 3000 }, (_, i) => `item-${i}-${'x'.repeat(i % 70)}`)],
    ['SADD', k('set:ints'), 1, 2, 3, 65536, -7, 4294967296],
    ['SADD', k('set:strings'), 'red', 'green', '', tag],
    ['SADD', k('set:big'), ...Array.from({ length: 2000 }, (_, i) => `member-${i}`)],
    ['ZADD', k('zset:small'), '-inf', 'low', '-1.5', 'neg', '0', 'zero', '0.1', 'tenth', '+inf', 'high'],
    ['ZADD', k('zset:big'), ...Array.from({ length: 1500 }, (_, i) => [i / 7, `player-${i}`]).flat()],
    ['HSET', k('hash:small'), 'name', 'ada', 'empty', '', 'tag', tag],
    ['HSET', k('hash:big'), ...Array.from({ length: 1000 }, (_, i) => [`field-${i}`, `value-${i}`]).flat()],
    ['HSET', k('hash:ttl'), 'a', '1'],
    ['PEXPIRE', k('hash:ttl'), 7_200_000],
    ['SET', k(''), 'the empty-named key is a key too'],
  ];
  const stream = k('stream:events');
  for (let i = 1; i <= 30; i++) cmds.push(['XADD', stream, `1700000000000-${i}`, 'n', String(i), 'tag', tag]);
  cmds.push(
    ['XDEL', stream, '1700000000000-5', '1700000000000-6'],
    ['XGROUP', 'CREATE', stream, 'billing', '0'],
    ['XGROUP', 'CREATE', stream, 'audit', '$'],
    ['XREADGROUP', 'GROUP', 'billing', 'worker-1', 'COUNT', 4, 'STREAMS', stream, '>'],
    ['XREADGROUP', 'GROUP', 'billing', 'worker-2', 'COUNT', 3, 'STREAMS', stream, '>'],
    ['XACK', stream, 'billing', '1700000000000-1'],
    ['XCLAIM', stream, 'billing', 'worker-2', 0, '1700000000000-2'],
    ['XGROUP', 'CREATECONSUMER', stream, 'audit', 'idle-reader'],
    ['XGROUP', 'CREATE', k('stream:empty'), 'watchers', '$', 'MKSTREAM'],
  );
  return cmds;
}

/** Number of keys everyTypeCommands creates. */
export const EVERY_TYPE_KEYS = 21;
