import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, replyArray, replyNumber, replyText, type Reply } from '../resp/reply.js';
import { keyCommand } from '../values/readValue.js';

/** How big a key is, from cheap commands. */
export interface KeySize {
  /** TYPE's answer: a KeyType, or a module type's name. */
  type: string;
  /** MEMORY USAGE (SAMPLES default), or where that is not allowed an estimate from a few elements. */
  bytes: number;
  /** STRLEN (bytes) for a string; LLEN, SCARD, ZCARD, HLEN, XLEN for the others; 0 for module types. */
  elements: number;
}

/** The element count of each type: all O(1). */
const COUNT: Record<string, string> = { string: 'STRLEN', list: 'LLEN', set: 'SCARD', zset: 'ZCARD', hash: 'HLEN', stream: 'XLEN' };
/** Elements looked at to estimate the size of a collection when MEMORY USAGE is not allowed. */
const SAMPLE = 4;
/** Per-element overhead assumed by that estimate (pointers, encodings, dict entries). */
const ELEMENT_OVERHEAD = 16;

/** Whether MEMORY USAGE works on an endpoint (Redis ≥ 4.0 and not refused by ACL or a proxy); learnt once. */
const memoryUsageWorks = new WeakMap<Endpoint, boolean>();

/**
 * Measures a key without reading it: TYPE, then its element count and MEMORY USAGE in one round
 * trip (both O(1) or O(samples)). Null when the key does not exist (or vanished meanwhile).
 */
export async function measureKey(endpoint: Endpoint, db: number, key: Buffer): Promise<KeySize | null> {
  const type = replyText(await keyCommand(endpoint, db, key, ['TYPE', key]));
  if (type === 'none') return null;
  const countCommand = COUNT[type];
  const [count, memory] = await Promise.all([
    countCommand ? keyCommand(endpoint, db, key, [countCommand, key]).then(replyNumber) : Promise.resolve(0),
    memoryUsage(endpoint, db, key),
  ]);
  // MEMORY USAGE answers nil, and the counts 0, for a key that is gone (no collection is empty).
  if (memory === null || (count === 0 && type !== 'string' && countCommand !== undefined)) return null;
  const bytes = typeof memory === 'number' ? memory : await estimateBytes(endpoint, db, key, type, count);
  return { type, bytes: type === 'string' ? Math.max(bytes, count) : bytes, elements: count };
}

/**
 * Whether a measured key is big: its bytes reach `bigKey.bytes`, or (not for strings, whose
 * "elements" are bytes) its elements reach `bigKey.elements`.
 */
export function isBig(m: KeySize, bigKey: { bytes: number; elements: number }): boolean {
  return m.bytes >= bigKey.bytes || (m.type !== 'string' && m.elements >= bigKey.elements);
}

/** MEMORY USAGE of the key; undefined when the endpoint does not allow it, null when the key is gone. */
async function memoryUsage(endpoint: Endpoint, db: number, key: Buffer): Promise<number | null | undefined> {
  if (!atLeast(endpoint.facts, 4, 0) || memoryUsageWorks.get(endpoint) === false) return undefined;
  try {
    const reply = await endpoint.call(db, key, 'MEMORY', 'USAGE', key);
    memoryUsageWorks.set(endpoint, true);
    return reply === null ? null : replyNumber(reply);
  } catch (err) {
    // Refused (unknown command, NOPERM, a proxy's own error): estimate instead, from now on.
    if (!(err instanceof ReplyError) || err.code === 'MOVED' || err.code === 'ASK' || err.code === 'TRYAGAIN') throw err;
    memoryUsageWorks.set(endpoint, false);
    return undefined;
  }
}

/** A size estimate from the first few elements (O(SAMPLE) commands), for servers without MEMORY USAGE. */
async function estimateBytes(endpoint: Endpoint, db: number, key: Buffer, type: string, count: number): Promise<number> {
  if (type === 'string') return count;
  const sample: Record<string, Arg[]> = {
    list: ['LRANGE', key, 0, SAMPLE - 1],
    set: ['SRANDMEMBER', key, SAMPLE],
    zset: ['ZRANGE', key, 0, SAMPLE - 1, 'WITHSCORES'],
    hash: ['HSCAN', key, 0, 'COUNT', SAMPLE],
    stream: ['XRANGE', key, '-', '+', 'COUNT', SAMPLE],
  };
  const args = sample[type];
  if (!args) return 0;
  const reply = await keyCommand(endpoint, db, key, args);
  // HSCAN's items are the second part of its reply; the others are the items themselves.
  const flat = flatten(type === 'hash' ? replyArray(reply)[1] : reply);
  const elementsSeen = type === 'zset' || type === 'hash' ? flat.items / 2 : type === 'stream' ? replyArray(reply).length : flat.items;
  if (elementsSeen === 0) return 0;
  return Math.round((flat.bytes / elementsSeen + ELEMENT_OVERHEAD) * count);
}

function flatten(reply: Reply): { items: number; bytes: number } {
  if (Array.isArray(reply)) {
    let items = 0;
    let bytes = 0;
    for (const r of reply) {
      const f = flatten(r);
      items += f.items;
      bytes += f.bytes;
    }
    return { items, bytes };
  }
  if (Buffer.isBuffer(reply) || typeof reply === 'string') return { items: 1, bytes: reply.length };
  return { items: 1, bytes: 8 };
}
