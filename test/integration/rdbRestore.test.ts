import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { parseDumpPayload, type ParsedValue } from '../../main/engine/rdb/index.js';
import { canHoldLosslessly, encodeDumpPayload, transcodeDumpPayload } from '../../main/engine/rdb/encode/index.js';
import { ReplyError } from '../../main/engine/resp/reply.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { describeDifference, valuesEqual } from '../../main/engine/values/logicalValue.js';
import { expectedLogical, loadRecords, VERSIONS } from '../support/rdbFixtures.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

/**
 * Payloads the encoder writes, checked by the one server there is: Debian's Redis 7.0.15 (RDB 10),
 * which loads every older type too. sanitize-dump-payload yes makes RESTORE validate every
 * ziplist, listpack, intset and stream node entry by entry (and refuse duplicates), not just the
 * headers it checks by default.
 */

const FIXTURES = VERSIONS.flatMap((version) =>
  loadRecords(version)
    .filter((r) => r.dump !== null)
    .map((rec) => ({ version, rec, label: `${version} ${rec.label}`, payload: rec.dump!, parsed: parseDumpPayload(rec.dump!) })),
);
const TARGET_RDB = 10;

let server: RedisServer;
let redis: Endpoint;

beforeAll(async () => {
  server = await startRedis({ args: ['--sanitize-dump-payload', 'yes'] });
  redis = await Endpoint.open({ role: 'target', name: 'redis70', url: server.url });
  expect(redis.facts.rdbVersion).toBe(TARGET_RDB);
});
afterAll(async () => {
  redis?.close();
  await server?.stop();
});

const restore = (key: Buffer, payload: Buffer) => redis.call(0, key, 'RESTORE', key, 0, payload, 'REPLACE');

/** The 7.0+ stream counters and the times a payload keeps, to compare what the server kept with what was sent. */
function streamExtras(v: ParsedValue): unknown {
  if (v.type !== 'stream') return null;
  const s = v.stream;
  return {
    firstId: s.firstId,
    entriesAdded: s.entriesAdded,
    maxDeletedId: s.maxDeletedId,
    groups: s.groups.map((g) => [g.entriesRead, g.deliveryTimesMs, g.consumerTimes.map((t) => t.seenTimeMs)]),
  };
}

async function inBatches<T>(items: T[], size: number, run: (item: T, i: number) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map((item, j) => run(item, i + j)));
}

describe('encoded payloads into Redis 7.0 (RESTORE with deep sanitization)', () => {
  it('every fixture payload of every version, encoded for RDB 10 where lossless, is accepted and reads back as the fixture value', async () => {
    const start = performance.now();
    let restored = 0;
    let refusedByRawVersion = 0;
    const skipped: string[] = [];
    await inBatches(FIXTURES, 64, async ({ label, rec, payload, parsed }, i) => {
      const verdict = canHoldLosslessly(parsed.value, TARGET_RDB);
      if (!verdict.ok) {
        skipped.push(`${label}: ${verdict.reason}`);
        return;
      }
      const key = Buffer.from(`enc10:${i}`);
      const ours = encodeDumpPayload(parsed.value, TARGET_RDB);
      if (parsed.rdbVersion > TARGET_RDB) {
        // The server's own payload is refused: only the re-encoded one gets in.
        await expect(restore(key, payload), label).rejects.toThrow(/payload version or checksum are wrong|Bad data format/);
        refusedByRawVersion++;
      }
      await restore(key, ours);
      restored++;
      const back = await readValue(redis, 0, key);
      const want = expectedLogical(rec.json);
      expect(back && valuesEqual(back, want), `${label}: ${back ? describeDifference(back, want) : 'gone'}`).toBe(true);
      // What the server holds is what was sent, stream counters and times included.
      const dumped = parseDumpPayload((await redis.call(0, key, 'DUMP', key)) as Buffer);
      expect(valuesEqual(dumped.value, parsed.value), label).toBe(true);
      expect(streamExtras(dumped.value), label).toEqual(streamExtras(parseDumpPayload(ours).value));
    });
    console.log(
      `rdbRestore: ${restored} of ${FIXTURES.length} fixture payloads re-encoded for RDB 10 and RESTOREd into 7.0.15 (${refusedByRawVersion} of them refused as the server wrote them); ${skipped.length} not lossless for RDB 10, in ${Math.round(performance.now() - start)} ms`,
    );
    for (const s of skipped) console.log(`rdbRestore: not lossless for RDB 10: ${s}`);
    expect(skipped.every((s) => /hash:fieldttl/.test(s))).toBe(true);
    expect(skipped).toHaveLength(4);
    expect(refusedByRawVersion).toBeGreaterThan(120);
  });

  it('the older encodings (RDB 6 to 9: ziplists, linked lists, quicklists, text scores, type 15 streams) are accepted too', async () => {
    const jobs: Array<{ label: string; value: ParsedValue; v: number }> = [];
    for (const { label, parsed } of FIXTURES) {
      for (let v = 6; v < TARGET_RDB; v++) if (canHoldLosslessly(parsed.value, v).ok) jobs.push({ label: `${label} -> RDB ${v}`, value: parsed.value, v });
    }
    const types = new Set<number>();
    await inBatches(jobs, 64, async ({ label, value, v }, i) => {
      const key = Buffer.from(`old:${i}`);
      const payload = encodeDumpPayload(value, v);
      types.add(payload[0]);
      await restore(key, payload);
      const back = await readValue(redis, 0, key);
      expect(back && valuesEqual(back, value), `${label}: ${back ? describeDifference(back, value) : 'gone'}`).toBe(true);
    });
    console.log(`rdbRestore: ${jobs.length} payloads encoded for RDB 6-9 RESTOREd into 7.0.15; type bytes ${[...types].sort((a, b) => a - b).join(', ')}`);
    expect([...types].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15]);
  });

  it('the refusal is real: 7.0 refuses the 7.2 set-listpack payload as the server wrote it, and takes it transcoded', async () => {
    const fixture = FIXTURES.find((f) => f.label === '7.2.6 set:small')!;
    expect(fixture.payload[0]).toBe(20);
    const key = Buffer.from('refusal:set');
    const err = await restore(key, fixture.payload).then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(ReplyError);
    expect((err as ReplyError).message).toMatch(/payload version or checksum are wrong/);
    const out = transcodeDumpPayload(fixture.payload, TARGET_RDB);
    expect(out.ok && out.how).toBe('re-encoded');
    if (!out.ok) return;
    expect(out.payload[0]).toBe(2); // a hashtable set: 7.0 has no listpack sets
    await restore(key, out.payload);
    expect(valuesEqual((await readValue(redis, 0, key))!, expectedLogical(fixture.rec.json))).toBe(true);
    // Even a plain string of 7.2 is refused for its footer alone; with the footer patched it loads.
    const str = FIXTURES.find((f) => f.label === '7.2.6 str:int')!;
    await expect(restore(Buffer.from('refusal:str'), str.payload)).rejects.toThrow(/payload version or checksum are wrong/);
    const refooted = transcodeDumpPayload(str.payload, TARGET_RDB);
    expect(refooted.ok && refooted.how).toBe('refooted');
    if (refooted.ok) await restore(Buffer.from('refusal:str'), refooted.payload);
  });

  it('a listpack element of exactly 16383 bytes (3-byte backlen, as lpEncodeBacklen writes it) passes deep sanitization', async () => {
    const key = Buffer.from('backlen:16383');
    const items = [Buffer.from('a'), Buffer.alloc(16378, 0x62), Buffer.from('c')];
    await restore(key, encodeDumpPayload({ type: 'list', items }, TARGET_RDB));
    const back = await readValue(redis, 0, key);
    expect(back && valuesEqual(back, { type: 'list', items })).toBe(true);
  });
});
