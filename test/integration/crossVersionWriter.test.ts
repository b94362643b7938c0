import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyCounts } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { parseInfo } from '../../main/engine/endpoints/serverFacts.js';
import { payloadType, type KeyType } from '../../main/engine/keys/keyTypes.js';
import { parseDumpPayload } from '../../main/engine/rdb/index.js';
import { canHoldLosslessly, encodeDumpPayload, refooted, transcodeDumpPayload } from '../../main/engine/rdb/encode/index.js';
import { CursorTracker } from '../../main/engine/readers/cursorTracker.js';
import type { BigKeyEntry, SourceEntry } from '../../main/engine/readers/scanReader.js';
import { replyNumber } from '../../main/engine/resp/reply.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { describeDifference, valuesEqual } from '../../main/engine/values/logicalValue.js';
import { RestoreWriter } from '../../main/engine/writers/restoreWriter.js';
import { expectedLogical, loadRecords, type FixtureRecord } from '../support/rdbFixtures.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

/**
 * The writer between servers of different versions: payloads dumped by Redis 7.2, 7.4 and 8.0 (the
 * fixtures) go to a Redis 7.0 target, which refuses every one of them as they are. The writer must
 * make each fit (a new footer, or re-encoded) and RESTORE it, and copy with commands only what 7.0
 * cannot hold (hashes with field TTLs). The source is a real 7.0 server holding the same keys, as
 * close as 7.0 can hold them, for the keys that go the commands way.
 */

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
  expect(target.facts.rdbVersion).toBe(10);
  // The fixtures' keys live in dbs 0, 1 and 15.
  await Promise.all([source.useDbs([0, 1, 15]), target.useDbs([0, 1, 15])]);
});
afterAll(async () => {
  source?.close();
  target?.close();
  await Promise.all([sourceServer?.stop(), targetServer?.stop()]);
});

function writerFor(into: Endpoint = target) {
  const counts = emptyCounts();
  const errors: string[] = [];
  const settle = new Map<SourceEntry | BigKeyEntry, (settled: boolean) => void>();
  const writer = new RestoreWriter({
    onDone: (entry, settled) => settle.get(entry)!(settled),
    source,
    sourceName: 'src',
    target: into,
    targetDbOf: (db) => db,
    policy: { onConflict: 'fail', keepTtl: true, extendMs: 0 },
    counts,
    onSkipped: () => {},
    onConflict: (entry) => errors.push(`conflict ${entry.key.toString()}`),
    onKeyError: (_entry, message) => errors.push(message),
    onFatal: (err) => errors.push(`fatal ${err.message}`),
  });
  const write = (rec: FixtureRecord, payload = rec.dump!) =>
    new Promise<boolean>((resolve) => {
      const page = new CursorTracker('0').openPage('0');
      page.hold();
      const entry: SourceEntry = { db: rec.db, key: rec.key, payload, expireAt: rec.json.pttl_ms ?? 0, type: payloadType(payload) as KeyType, page, reader: null as never };
      settle.set(entry, resolve);
      writer.write(entry);
    });
  return { counts, errors, write };
}

/** INFO commandstats as command -> calls. */
async function commandCalls(endpoint: Endpoint): Promise<Map<string, number>> {
  const info = parseInfo(String(await endpoint.call(0, Buffer.from('x'), 'INFO', 'commandstats')));
  const calls = new Map<string, number>();
  for (const [name, value] of info) {
    const m = /^cmdstat_(.+)$/.exec(name);
    const n = /calls=(\d+)/.exec(value);
    if (m && n) calls.set(m[1], Number(n[1]));
  }
  return calls;
}

describe('restore writer across versions (into Redis 7.0)', () => {
  for (const version of ['7.2.6', '7.4.1', '8.0-m01']) {
    it(`${version} payloads: every key arrives equal, by one RESTORE each where 7.0 can hold the value`, async () => {
      const records = loadRecords(version).filter((r) => r.dump !== null);
      await Promise.all([source.call(0, Buffer.from('x'), 'FLUSHALL'), target.call(0, Buffer.from('x'), 'FLUSHALL')]);
      // The source holds every key as 7.0 can: what 7.0 cannot hold (field TTLs) is left out.
      for (const r of records) {
        const parsed = parseDumpPayload(r.dump!);
        const fit = transcodeDumpPayload(r.dump!, 10);
        const payload = fit.ok ? fit.payload : encodeDumpPayload(parsed.value, 10, { allowLoss: true });
        const args = ['RESTORE', r.key, r.json.pttl_ms ?? 0, payload, ...(r.json.pttl_ms ? ['ABSTTL'] : [])];
        await source.call(r.db, r.key, ...args);
      }
      await target.call(0, Buffer.from('x'), 'CONFIG', 'RESETSTAT');

      const lossy = records.filter((r) => !canHoldLosslessly(parseDumpPayload(r.dump!).value, 10).ok);
      const start = performance.now();
      const { counts, errors, write } = writerFor();
      const settled = await Promise.all(records.map((r) => write(r)));
      const ms = performance.now() - start;
      expect(errors).toEqual([]);
      expect(settled.every(Boolean)).toBe(true);
      expect(counts.written).toBe(records.length);
      expect(counts.viaCommands).toBe(lossy.length);

      for (const r of records) {
        const back = await readValue(target, r.db, r.key);
        const want = expectedLogical(r.json);
        expect(back && valuesEqual(back, want), `${version} ${r.label}: ${back ? describeDifference(back, want) : 'missing'}`).toBe(true);
        const expireAt = replyNumber(await target.call(r.db, r.key, 'PEXPIRETIME', r.key));
        // ABSTTL goes by the target's clock; Ferry's estimate of its offset is good to a few ms.
        if (r.json.pttl_ms === null) expect(expireAt, `${r.label} expire time`).toBe(-1);
        else expect(Math.abs(expireAt - r.json.pttl_ms), `${r.label} expire time`).toBeLessThanOrEqual(20);
      }

      const calls = await commandCalls(target);
      // One RESTORE per key 7.0 can hold (each accepted at the first try), none for the others.
      expect(calls.get('restore')).toBe(records.length - lossy.length);
      for (const cmd of ['rpush', 'lpush', 'sadd', 'zadd', 'xadd', 'xgroup', 'xclaim', 'set', 'append']) expect(calls.get(cmd) ?? 0, cmd).toBe(0);
      // Plain commands only for the hashes with field TTLs.
      if (lossy.length > 0) expect(calls.get('hset')).toBeGreaterThan(0);
      else expect(calls.get('hset') ?? 0).toBe(0);
      expect(lossy.map((r) => r.label).sort()).toEqual(version === '7.2.6' ? [] : ['hash:fieldttl:large', 'hash:fieldttl:small']);
      console.log(
        `crossVersionWriter: ${version} -> 7.0.15: ${records.length} keys in ${Math.round(ms)} ms, ${calls.get('restore')} RESTOREs, ${counts.viaCommands} via commands (${calls.get('hset') ?? 0} HSETs)`,
      );
    });
  }

  /** Keys of the 7.2 fixtures the source (7.0) holds as 7.2 has them, and the target has not. */
  async function sourceHolds(records: FixtureRecord[]): Promise<void> {
    await Promise.all([source.call(0, Buffer.from('x'), 'FLUSHALL'), target.call(0, Buffer.from('x'), 'FLUSHALL')]);
    for (const r of records) {
      const fit = transcodeDumpPayload(r.dump!, 10);
      if (!fit.ok) throw new Error(fit.reason);
      await source.call(r.db, r.key, 'RESTORE', r.key, 0, fit.payload);
    }
    await target.call(0, Buffer.from('x'), 'CONFIG', 'RESETSTAT');
  }

  it('a payload of an RDB version Ferry does not know goes via commands', async () => {
    const records = loadRecords('7.2.6').filter((r) => r.dump && r.db === 0 && ['list:small', 'set:small', 'str:raw200'].includes(r.label));
    expect(records).toHaveLength(3);
    await sourceHolds(records);
    const { counts, errors, write } = writerFor();
    // The same bytes with RDB 13 in the footer (CRC patched): a format newer than the parser knows.
    await Promise.all(records.map((r) => write(r, refooted(r.dump!, 13))));
    expect(errors).toEqual([]);
    expect(counts.viaCommands).toBe(3);
    expect((await commandCalls(target)).get('restore') ?? 0).toBe(0);
    for (const r of records) expect(valuesEqual((await readValue(target, r.db, r.key))!, expectedLogical(r.json)), r.label).toBe(true);
  });

  it('a target that refuses a payload even so gets the key by commands, and that type goes there directly after', async () => {
    // A second connection to the 7.0 target that believes it reads RDB 11: 7.2 payloads go as they
    // are, and 7.0 refuses them.
    const believer = await Endpoint.open({ role: 'target', name: 'believer', url: targetServer.url });
    try {
      await believer.useDbs([0, 1, 15]);
      believer.facts.rdbVersion = 11;
      const records = loadRecords('7.2.6').filter((r) => r.dump && r.json.type === 'set');
      expect(records.filter((r) => r.dump![0] === 20).length).toBeGreaterThanOrEqual(2);
      await sourceHolds(records);
      const { counts, errors, write } = writerFor(believer);
      for (const r of records) expect(await write(r), r.label).toBe(true);
      expect(errors).toEqual([]);
      expect(counts.written).toBe(records.length);
      expect(counts.viaCommands).toBe(records.length);
      // Each type byte was tried once; after a refusal its keys go by commands without trying.
      const types = new Set(records.map((r) => r.dump![0]));
      expect((await commandCalls(target)).get('restore')).toBe(types.size);
      for (const r of records) expect(valuesEqual((await readValue(target, r.db, r.key))!, expectedLogical(r.json)), r.label).toBe(true);
    } finally {
      believer.close();
    }
  });
});
