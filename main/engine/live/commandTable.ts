import type { KeyType } from '../keys/keyTypes.js';

/**
 * Where a command's keys are, as Redis's own command table says (COMMAND INFO: first key, last key,
 * step; last -1 = the last argument, -2 = the one before). Commands whose other keys move with their
 * arguments (numkeys, STORE…) are marked `movable`; the translator finds those keys itself.
 */
export interface KeySpec {
  first: number;
  last: number;
  step: number;
  movable?: true;
  /** The type of value the command writes (for options.types); absent for type-free commands. */
  type?: KeyType;
  /** It replaces whatever the key held, of any type (so an excluded result type means the key goes). */
  overwrites?: true;
}

const one = (type?: KeyType, overwrites?: true): KeySpec => ({ first: 1, last: 1, step: 1, type, overwrites });

/**
 * Write commands a master propagates, and the few it propagates that are not data (FLUSHDB…), with
 * their key positions. Facts from Redis 2.6 to 8.0 (src/commands/*.json); checked against a real
 * server in test/integration/liveCommandTable.test.ts.
 */
export const WRITE_COMMANDS: ReadonlyMap<string, KeySpec> = new Map<string, KeySpec>([
  // strings
  ['append', one('string')],
  ['bitfield', one('string')],
  ['bitop', { first: 2, last: -1, step: 1, type: 'string', overwrites: true }],
  ['decr', one('string')],
  ['decrby', one('string')],
  ['getdel', one()],
  ['getex', one()],
  ['getset', one('string', true)],
  ['incr', one('string')],
  ['incrby', one('string')],
  ['incrbyfloat', one('string')],
  ['mset', { first: 1, last: -1, step: 2, type: 'string', overwrites: true }],
  ['msetnx', { first: 1, last: -1, step: 2, type: 'string', overwrites: true }],
  ['psetex', one('string', true)],
  ['set', one('string', true)],
  ['setbit', one('string')],
  ['setex', one('string', true)],
  ['setnx', one('string')],
  ['setrange', one('string')],
  ['pfadd', one('string')],
  ['pfcount', { first: 1, last: -1, step: 1, type: 'string' }],
  ['pfdebug', { first: 2, last: 2, step: 1, type: 'string' }],
  ['pfmerge', { first: 1, last: -1, step: 1, type: 'string' }],
  // lists
  ['blmove', { first: 1, last: 2, step: 1, type: 'list' }],
  ['blmpop', { first: 0, last: 0, step: 0, movable: true, type: 'list' }],
  ['blpop', { first: 1, last: -2, step: 1, type: 'list' }],
  ['brpop', { first: 1, last: -2, step: 1, type: 'list' }],
  ['brpoplpush', { first: 1, last: 2, step: 1, type: 'list' }],
  ['linsert', one('list')],
  ['lmove', { first: 1, last: 2, step: 1, type: 'list' }],
  ['lmpop', { first: 0, last: 0, step: 0, movable: true, type: 'list' }],
  ['lpop', one('list')],
  ['lpush', one('list')],
  ['lpushx', one('list')],
  ['lrem', one('list')],
  ['lset', one('list')],
  ['ltrim', one('list')],
  ['rpop', one('list')],
  ['rpoplpush', { first: 1, last: 2, step: 1, type: 'list' }],
  ['rpush', one('list')],
  ['rpushx', one('list')],
  // hashes (HEXPIRE… 7.4, HSETEX/HGETEX/HGETDEL 8.0)
  ['hdel', one('hash')],
  ['hincrby', one('hash')],
  ['hincrbyfloat', one('hash')],
  ['hmset', one('hash')],
  ['hset', one('hash')],
  ['hsetnx', one('hash')],
  ['hexpire', one('hash')],
  ['hpexpire', one('hash')],
  ['hexpireat', one('hash')],
  ['hpexpireat', one('hash')],
  ['hpersist', one('hash')],
  ['hsetex', one('hash')],
  ['hgetex', one('hash')],
  ['hgetdel', one('hash')],
  // sets
  ['sadd', one('set')],
  ['sdiffstore', { first: 1, last: -1, step: 1, type: 'set', overwrites: true }],
  ['sinterstore', { first: 1, last: -1, step: 1, type: 'set', overwrites: true }],
  ['smove', { first: 1, last: 2, step: 1, type: 'set' }],
  ['spop', one('set')],
  ['srem', one('set')],
  ['sunionstore', { first: 1, last: -1, step: 1, type: 'set', overwrites: true }],
  // sorted sets (and geo, which are sorted sets)
  ['bzmpop', { first: 0, last: 0, step: 0, movable: true, type: 'zset' }],
  ['bzpopmax', { first: 1, last: -2, step: 1, type: 'zset' }],
  ['bzpopmin', { first: 1, last: -2, step: 1, type: 'zset' }],
  ['zadd', one('zset')],
  ['zdiffstore', { first: 1, last: 1, step: 1, movable: true, type: 'zset', overwrites: true }],
  ['zincrby', one('zset')],
  ['zinterstore', { first: 1, last: 1, step: 1, movable: true, type: 'zset', overwrites: true }],
  ['zmpop', { first: 0, last: 0, step: 0, movable: true, type: 'zset' }],
  ['zpopmax', one('zset')],
  ['zpopmin', one('zset')],
  ['zrangestore', { first: 1, last: 2, step: 1, type: 'zset', overwrites: true }],
  ['zrem', one('zset')],
  ['zremrangebylex', one('zset')],
  ['zremrangebyrank', one('zset')],
  ['zremrangebyscore', one('zset')],
  ['zunionstore', { first: 1, last: 1, step: 1, movable: true, type: 'zset', overwrites: true }],
  ['geoadd', one('zset')],
  ['georadius', { first: 1, last: 1, step: 1, movable: true, type: 'zset' }],
  ['georadiusbymember', { first: 1, last: 1, step: 1, movable: true, type: 'zset' }],
  ['geosearchstore', { first: 1, last: 2, step: 1, type: 'zset', overwrites: true }],
  // streams
  ['xack', one('stream')],
  ['xadd', one('stream')],
  ['xautoclaim', one('stream')],
  ['xclaim', one('stream')],
  ['xdel', one('stream')],
  ['xgroup', { first: 2, last: 2, step: 1, type: 'stream' }],
  ['xsetid', one('stream')],
  ['xtrim', one('stream')],
  ['xreadgroup', { first: 0, last: 0, step: 0, movable: true, type: 'stream' }],
  // any type
  ['copy', { first: 1, last: 2, step: 1 }],
  ['del', { first: 1, last: -1, step: 1 }],
  ['unlink', { first: 1, last: -1, step: 1 }],
  ['expire', one()],
  ['expireat', one()],
  ['pexpire', one()],
  ['pexpireat', one()],
  ['persist', one()],
  ['move', one()],
  ['rename', { first: 1, last: 2, step: 1 }],
  ['renamenx', { first: 1, last: 2, step: 1 }],
  ['restore', one(undefined, true)],
  ['restore-asking', one(undefined, true)],
  ['sort', { first: 1, last: 1, step: 1, movable: true }],
  // scripts: keys after numkeys
  ['eval', { first: 0, last: 0, step: 0, movable: true }],
  ['evalsha', { first: 0, last: 0, step: 0, movable: true }],
  ['fcall', { first: 0, last: 0, step: 0, movable: true }],
  // not about keys
  ['flushall', { first: 0, last: 0, step: 0 }],
  ['flushdb', { first: 0, last: 0, step: 0 }],
  ['swapdb', { first: 0, last: 0, step: 0 }],
  ['script', { first: 0, last: 0, step: 0 }],
  ['function', { first: 0, last: 0, step: 0 }],
]);

/** Positions (argv indexes) of the keys a fixed spec names. */
export function keyIndexes(spec: Pick<KeySpec, 'first' | 'last' | 'step'>, argc: number): number[] {
  if (spec.first <= 0 || spec.step <= 0) return [];
  const last = spec.last < 0 ? argc + spec.last : spec.last;
  const out: number[] = [];
  for (let i = spec.first; i <= last && i < argc; i += spec.step) out.push(i);
  return out;
}

/**
 * Key specs from a server's `COMMAND` (or `COMMAND INFO …`) reply: [name, arity, flags, first,
 * last, step, …] per command. For commands a module adds, which this table cannot know.
 */
export function keySpecsFromCommandReply(reply: unknown): Map<string, KeySpec> {
  const out = new Map<string, KeySpec>();
  if (!Array.isArray(reply)) return out;
  for (const entry of reply) {
    if (!Array.isArray(entry) || entry.length < 6) continue;
    const name = String(entry[0]).toLowerCase();
    const flags = Array.isArray(entry[2]) ? entry[2].map(String) : [];
    const spec: KeySpec = { first: Number(entry[3]), last: Number(entry[4]), step: Number(entry[5]) };
    if (flags.includes('movablekeys')) spec.movable = true;
    out.set(name, spec);
  }
  return out;
}
