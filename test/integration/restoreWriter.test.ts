import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { payloadType, type KeyType } from '../../main/engine/keys/keyTypes.js';
import { CursorTracker } from '../../main/engine/readers/cursorTracker.js';
import type { BigKeyEntry, SourceEntry } from '../../main/engine/readers/scanReader.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { valuesEqual } from '../../main/engine/values/logicalValue.js';
import { RestoreWriter } from '../../main/engine/writers/restoreWriter.js';
import { refooted } from '../../main/engine/rdb/encode/index.js';
import type { WritePolicy } from '../../main/engine/writers/writePolicy.js';
import { replyNumber } from '../../main/engine/resp/reply.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import { REPO_ROOT } from '../support/cli.js';

interface FixtureRecord {
  db: number;
  key_hex: string;
  type: string;
  dump_hex: string | null;
}
const fixtures = path.resolve(REPO_ROOT, '..', 'shared', 'fixtures', 'dump');
const load = (version: string) => JSON.parse(fs.readFileSync(path.join(fixtures, `${version}.json`), 'utf8')) as FixtureRecord[];

let sourceServer: RedisServer;
let targetServer: RedisServer;
let source: Endpoint;
let target: Endpoint;

beforeAll(async () => {
  [sourceServer, targetServer] = await Promise.all([startRedis(), startRedis()]);
  [source, target] = await Promise.all([
    Endpoint.open({ role: 'source', name: 'src', url: sourceServer.url }),
    Endpoint.open({ role: 'target', name: 'target', url: targetServer.url }),
  ]);
});
afterAll(async () => {
  source.close();
  target.close();
  await Promise.all([sourceServer.stop(), targetServer.stop()]);
});

function writerFor(policy: Partial<WritePolicy> = {}) {
  const counts = emptyCounts();
  const errors: string[] = [];
  const settle = new Map<SourceEntry | BigKeyEntry, (settled: boolean) => void>();
  const writer = new RestoreWriter({
    onDone: (entry, settled) => settle.get(entry)!(settled),
    source,
    sourceName: 'src',
    target,
    targetDbOf: (db) => db,
    policy: { onConflict: 'fail', keepTtl: true, extendMs: 0, ...policy },
    counts,
    onSkipped: () => {},
    onConflict: (entry) => errors.push(`conflict ${entry.key.toString()}`),
    onKeyError: (_entry, message) => errors.push(message),
    onFatal: (err) => errors.push(`fatal ${err.message}`),
  });
  const write = (entry: Omit<SourceEntry, 'page' | 'type' | 'reader'>) =>
    new Promise<boolean>((resolve) => {
      const page = new CursorTracker('0').openPage('0');
      page.hold();
      const full = { ...entry, type: payloadType(entry.payload) as KeyType, page, reader: null as never };
      settle.set(full, resolve);
      writer.write(full);
    });
  return { counts, errors, write };
}

describe('restore writer', () => {
  it.each([
    ['a Redis 7.2 payload (RDB 11) is made fit for the 7.0 target and RESTOREd', 11, 'reencoded'],
    ['a payload of an RDB version newer than Ferry knows (13) is written with plain commands', 13, 'viaCommands'],
  ] as const)('%s', async (_title, footerVersion, way) => {
    // The source holds the values as Redis 7.0 encodes them; the entries carry Redis 7.2 payloads
    // of the same values, with `footerVersion` in their footer.
    const older = load('7.0.15').filter((r) => r.db === 0 && r.dump_hex);
    const newer = new Map(load('7.2.6').map((r) => [`${r.db}:${r.key_hex}`, r]));
    const records = older.filter((r) => newer.has(`0:${r.key_hex}`));
    expect(records.length).toBeGreaterThan(20);
    for (const r of records) {
      const key = Buffer.from(r.key_hex, 'hex');
      await source.call(0, key, 'RESTORE', key, 0, Buffer.from(r.dump_hex!, 'hex'), 'REPLACE');
      await target.call(0, key, 'DEL', key);
    }
    const { counts, errors, write } = writerFor();
    await Promise.all(
      records.map((r) => {
        const payload = refooted(Buffer.from(newer.get(`0:${r.key_hex}`)!.dump_hex!, 'hex'), footerVersion);
        return write({ db: 0, key: Buffer.from(r.key_hex, 'hex'), payload, expireAt: 0 });
      }),
    );
    expect(errors).toEqual([]);
    expect(counts.written).toBe(records.length);
    expect(counts[way]).toBe(records.length);
    expect(counts.reencoded + counts.viaCommands).toBe(records.length);
    for (const r of records) {
      const key = Buffer.from(r.key_hex, 'hex');
      const [a, b] = await Promise.all([readValue(source, 0, key), readValue(target, 0, key)]);
      expect(a && b && valuesEqual(a, b), r.key_hex).toBe(true);
    }
  });

  it('skips and counts a key whose TTL passed before it could be written', async () => {
    const { counts, errors, write } = writerFor();
    const payload = (await source.call(0, Buffer.from('x'), 'DUMP', 'str:int')) as Buffer;
    // Both are settled: an expired key needs nothing more, so the checkpoint may move past it.
    expect(await write({ db: 0, key: Buffer.from('expired-key'), payload, expireAt: Date.now() - 5 })).toBe(true);
    expect(await write({ db: 0, key: Buffer.from('live-key'), payload, expireAt: Date.now() + 60_000 })).toBe(true);
    expect(errors).toEqual([]);
    expect(counts.expired).toBe(1);
    expect(counts.written).toBe(1);
    expect(replyNumber(await target.call(0, Buffer.from('expired-key'), 'EXISTS', 'expired-key'))).toBe(0);
    const pttl = replyNumber(await target.call(0, Buffer.from('live-key'), 'PTTL', 'live-key'));
    expect(pttl).toBeGreaterThan(58_000);
    // ABSTTL uses the target's clock; Ferry's estimate of its offset is good to a few ms.
    expect(pttl).toBeLessThanOrEqual(60_000 + 20);
  });

  it('reports a conflict as not settled, so the checkpoint stays before it', async () => {
    const { counts, errors, write } = writerFor({ onConflict: 'fail' });
    await target.call(0, Buffer.from('taken'), 'SET', 'taken', 'target value');
    const payload = (await source.call(0, Buffer.from('x'), 'DUMP', 'str:int')) as Buffer;
    expect(await write({ db: 0, key: Buffer.from('taken'), payload, expireAt: 0 })).toBe(false);
    expect(errors).toEqual(['conflict taken']);
    expect(counts.written).toBe(0);
  });

  it('extendMs keeps alive a key that would have expired on the way', async () => {
    const { counts, write } = writerFor({ extendMs: 30_000 });
    const payload = (await source.call(0, Buffer.from('x'), 'DUMP', 'str:int')) as Buffer;
    await write({ db: 0, key: Buffer.from('extended-key'), payload, expireAt: Date.now() - 5 });
    expect(counts.written).toBe(1);
    expect(replyNumber(await target.call(0, Buffer.from('extended-key'), 'PTTL', 'extended-key'))).toBeGreaterThan(25_000);
  });
});
