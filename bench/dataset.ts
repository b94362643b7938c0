import type { RedisConnection } from '../main/engine/resp/connection.js';
import type { Arg } from '../main/engine/resp/commandEncoder.js';

/** 70 % ~100-byte strings, 10 % hashes of 10 fields, 10 % zsets of 10, 5 % lists of 10, 5 % sets of 10; 20 % with a TTL. */
export async function fillBenchDataset(conn: RedisConnection, keys: number): Promise<void> {
  const value = (n: number) => `v${n}:`.padEnd(100, 'abcdefghij');
  for (let n = 0; n < keys; n++) {
    const kind = n % 20;
    const key = `bench:${n}`;
    let args: Arg[];
    if (kind < 14) args = ['SET', key, value(n)];
    else if (kind < 16) args = ['HSET', key, ...Array.from({ length: 10 }, (_, i) => [`field${i}`, `value-${n}-${i}`]).flat()];
    else if (kind < 18) args = ['ZADD', key, ...Array.from({ length: 10 }, (_, i) => [i * 1.5, `member-${n}-${i}`]).flat()];
    else if (kind < 19) args = ['RPUSH', key, ...Array.from({ length: 10 }, (_, i) => `item-${n}-${i}`)];
    else args = ['SADD', key, ...Array.from({ length: 10 }, (_, i) => `m-${n}-${i}`)];
    conn.send(args, () => {});
    if (n % 5 === 0) conn.send(['PEXPIRE', key, 3_600_000 + n], () => {});
    if (n % 10_000 === 0) await conn.drain();
  }
  await conn.drain();
}

