import type { RedisConnection } from '../resp/connection.js';
import type { Arg } from '../resp/commandEncoder.js';

/**
 * The sandbox's "legacy" data: what a real cache of an old product holds. Sessions with TTLs,
 * user hashes, queues, tag sets, leaderboards, event streams with consumer groups and pending
 * entries, binary and unicode keys, empty values, a few multi-megabyte keys, and keys that two
 * sources both hold (some equal, most not) so the conflict policy has something to decide.
 */
export interface SandboxSourceSpec {
  name: string;
  /** Extra db (besides 0) filled with cache pages, or none. */
  extraDb?: number;
  bigKey: 'string' | 'hash' | 'list';
  /** Holds the `shared:config:*` keys too. */
  shares: 'first' | 'second' | 'none';
}

export const SANDBOX_SOURCES: SandboxSourceSpec[] = [
  { name: 'legacy-a', extraDb: 1, bigKey: 'string', shares: 'first' },
  { name: 'legacy-b', extraDb: 2, bigKey: 'hash', shares: 'second' },
  { name: 'legacy-c', bigKey: 'list', shares: 'none' },
];

/** Deterministic pseudo-random numbers, so every sandbox holds the same data. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 0x1_0000_0000;
  };
}

const WORDS = ['alpha', 'bravo', 'delta', 'echo', 'kilo', 'lima', 'oscar', 'tango', 'zulu', 'nova', 'orbit', 'pixel', 'quartz', 'rover'];

/** Writes a source's data through a pipelined connection per db; returns the number of keys. */
export async function fillSandboxSource(spec: SandboxSourceSpec, index: number, connFor: (db: number) => RedisConnection): Promise<number> {
  const rand = rng(0x5eed + index * 7919);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  const word = () => pick(WORDS);
  const conn = connFor(0);
  let keys = 0;
  let sent = 0;
  const send = async (c: RedisConnection, args: Arg[]) => {
    c.send(args, () => {});
    // Let replies drain now and then so neither side buffers the whole data set.
    if (++sent % 5000 === 0) await c.drain();
  };
  const hourMs = 3_600_000;
  const tag = spec.name.slice(-1);

  for (let n = 0; n < 20_000; n++) {
    const value = JSON.stringify({ user: `u${Math.floor(rand() * 1e6)}`, cart: Math.floor(rand() * 40), theme: word(), last: `2019-0${1 + (n % 9)}-1${n % 10}` });
    const args: Arg[] = ['SET', `session:${tag}:${n.toString(36)}`, value];
    if (rand() < 0.4) args.push('PX', Math.floor(hourMs + rand() * 23 * hourMs));
    await send(conn, args);
  }
  for (let n = 0; n < 4_000; n++) await send(conn, ['SET', `counter:${tag}:${n}`, String(Math.floor(rand() * 1e9) - 5e8)]);
  for (let n = 0; n < 4_000; n++) {
    const fields: Arg[] = [];
    const count = 5 + Math.floor(rand() * 10);
    for (let f = 0; f < count; f++) fields.push(`f${f}`, `${word()}-${Math.floor(rand() * 1e6)}`);
    await send(conn, ['HSET', `user:${tag}:${n}`, ...fields]);
  }
  for (let n = 0; n < 2_000; n++) {
    const items: Arg[] = [];
    for (let i = 0; i < 5 + (n % 15); i++) items.push(`job-${Math.floor(rand() * 1e6)}`);
    await send(conn, ['RPUSH', `queue:${tag}:${n}`, ...items]);
    const members: Arg[] = [];
    for (let i = 0; i < 3 + (n % 8); i++) members.push(word() + (i % 3 ? '' : String(i)));
    await send(conn, ['SADD', `tags:${tag}:${n}`, ...members]);
    const scored: Arg[] = [];
    for (let i = 0; i < 4 + (n % 12); i++) scored.push((rand() * 1e4 - 2e3).toFixed(n % 3), `player-${i}`);
    await send(conn, ['ZADD', `leaderboard:${tag}:${n}`, ...scored]);
  }
  keys += 20_000 + 4_000 + 4_000 + 6_000;

  // Event streams with a consumer group, some entries read and left pending, one acknowledged.
  for (let n = 0; n < 20; n++) {
    const key = `events:${tag}:${word()}-${n}`;
    for (let e = 1; e <= 50; e++) await send(conn, ['XADD', key, `${1546300800000 + n * 1000 + e}-0`, 'kind', word(), 'n', String(e)]);
    await send(conn, ['XGROUP', 'CREATE', key, 'billing', '0']);
    await send(conn, ['XREADGROUP', 'GROUP', 'billing', `worker-${n % 3}`, 'COUNT', 10, 'STREAMS', key, '>']);
    await send(conn, ['XACK', key, 'billing', `${1546300800000 + n * 1000 + 1}-0`]);
    keys++;
  }

  // Keys that are not text, an empty value, unicode, and an expiring key with a short TTL.
  for (let n = 0; n < 100; n++) {
    const bytes = Buffer.from([0x00, 0xff, n, 0xfe, 0x0a, Math.floor(rand() * 256), 0x00]);
    await send(conn, ['SET', Buffer.concat([Buffer.from(`bin:${tag}:`), bytes]), Buffer.from([0xff, 0x00, n, 0x80])]);
  }
  await send(conn, ['SET', `empty:${tag}`, '']);
  await send(conn, ['SET', `ключ:東京:${tag}:🚀`, 'значение ✓']);
  keys += 102;

  // One big key per source: the kind that stalls a live target when sent as one RESTORE.
  if (spec.bigKey === 'string') {
    await send(conn, ['SET', `blob:${tag}:report-2019`, Buffer.alloc(4 * 1024 * 1024, 'quarterly-report;')]);
  } else if (spec.bigKey === 'hash') {
    for (let chunk = 0; chunk < 20; chunk++) {
      const fields: Arg[] = [];
      for (let f = 0; f < 2_500; f++) fields.push(`sku-${chunk * 2_500 + f}`, `${word()}:${(rand() * 1000).toFixed(2)}:${'x'.repeat(40)}`);
      await send(conn, ['HSET', `catalog:${tag}:all`, ...fields]);
    }
  } else {
    for (let chunk = 0; chunk < 30; chunk++) {
      const items: Arg[] = [];
      for (let i = 0; i < 1_000; i++) items.push(`audit ${chunk * 1000 + i} ${word()} ${'y'.repeat(60)}`);
      await send(conn, ['RPUSH', `audit:${tag}:log`, ...items]);
    }
  }
  keys++;

  // Keys two sources both hold: the first 100 equal, the other 400 with different values.
  if (spec.shares !== 'none') {
    for (let n = 0; n < 500; n++) {
      const value = n < 100 || spec.shares === 'first' ? `config-${n}-v1` : `config-${n}-v2-from-${spec.name}`;
      await send(conn, ['SET', `shared:config:${n}`, value]);
    }
    keys += 500;
  }

  if (spec.extraDb !== undefined) {
    const extra = connFor(spec.extraDb);
    for (let n = 0; n < 3_000; n++) await send(extra, ['SET', `cache:page:${spec.extraDb}:${n}`, `<html>${word()} ${n}</html>`, 'PX', Math.floor(2 * hourMs + rand() * hourMs)]);
    await extra.drain();
    keys += 3_000;
  }
  await conn.drain();
  return keys;
}
