import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { RdbError } from '../../main/engine/rdb/index.js';
import { allocSize, inspectRdb, keyOverhead, rdbTypeName, valueDigest, valueMemory, walkRdbFile, type RdbKeyRecord } from '../../main/engine/rdb/inspect.js';
import { RdbInspection } from '../../shared/rdb.js';
import { corruptFiles, expectedLogical, FIXTURES, loadMeta, loadRecords, VERSIONS } from '../support/rdbFixtures.js';

const rdbPath = (version: string) => join(FIXTURES, 'rdb', version, 'dump.rdb');
const count = <T>(items: T[], key: (t: T) => string): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const t of items) out[key(t)] = (out[key(t)] ?? 0) + 1;
  return out;
};
const atLeast = (version: string, major: number, minor: number) => {
  const [a, b] = version.split(/[.-]/).map((p) => Number.parseInt(p, 10) || 0);
  return a > major || (a === major && b >= minor);
};
/** Bytes of an RDB length. */
const lengthBytes = (n: number) => (n < 64 ? 1 : n < 16384 ? 2 : n <= 0xffffffff ? 5 : 9);

describe('inspectRdb on every fixture dump.rdb', () => {
  it('knows every version', () => {
    expect(VERSIONS).toEqual(['2.4.18', '2.6.17', '2.8.24', '3.0.7', '3.2.13', '4.0.14', '5.0.14', '6.2.14', '7.0.15', '7.2.6', '7.4.1', '8.0-m01']);
  });

  for (const version of VERSIONS) {
    describe(version, () => {
      const records = loadRecords(version);
      const meta = loadMeta(version);
      // A fixed clock before every fixture TTL (2036 on 2.4, 2100 elsewhere), so nothing counts as expired.
      const now = Date.UTC(2030, 0, 1);
      const inspection = inspectRdb(rdbPath(version), { top: 5, now });

      it('is a valid RdbInspection with the file, its RDB version and who wrote it', async () => {
        const r = await inspection;
        expect(() => RdbInspection.parse(r)).not.toThrow();
        expect(r.rdbVersion).toBe(meta.rdb_version);
        expect(r.fileBytes).toBeGreaterThan(0);
        expect(r.parseMs).toBeGreaterThanOrEqual(0);
        if (atLeast(version, 3, 2)) {
          const redisVer = r.aux.find((a) => a.key === 'redis-ver');
          expect(redisVer?.value).toBe((meta as unknown as { redis_version: string }).redis_version);
          expect(r.writtenBy).toEqual({ version: redisVer!.value, from: 'aux' });
          expect(r.createdAt).toMatch(/^\d{4}-\d\d-\d\dT/);
          expect(r.usedMemAux).toBeGreaterThan(0);
          expect(r.aux.find((a) => a.key === 'ctime')?.meaning).toMatch(/^saved at \d{4}-/);
        } else {
          expect(r.aux).toEqual([]);
          expect(r.writtenBy.from).toBe('rdb-version');
          expect(r.writtenBy.version).toContain(version.startsWith('2.4') ? '2.4' : '2.6');
        }
      });

      it('checks the checksum (none before RDB 5)', async () => {
        expect((await inspection).checksum).toBe(meta.rdb_version >= 5 ? 'ok' : 'absent');
      });

      it('counts the keys per db and per type as the fixture records them', async () => {
        const r = await inspection;
        expect(Object.fromEntries(r.dbs.map((d) => [String(d.db), d.keys]))).toEqual(count(records, (x) => String(x.db)));
        expect(Object.fromEntries(r.types.map((t) => [t.type, t.keys]))).toEqual(count(records, (x) => x.json.type));
        for (const d of r.dbs) {
          const inDb = records.filter((x) => x.db === d.db);
          expect(Object.fromEntries(d.types.map((t) => [t.type, t.keys]))).toEqual(count(inDb, (x) => x.json.type));
          expect(d.expires).toBe(inDb.filter((x) => x.json.pttl_ms !== null).length);
          expect(d.fieldTtlKeys).toBe(inDb.filter((x) => (x.json.field_expire_ms?.length ?? 0) > 0).length);
          expect(d.expiredAtRead).toBe(0);
          if (atLeast(version, 3, 2)) expect(d.resize).toEqual({ dbSize: inDb.length, expiresSize: d.expires });
          else expect(d.resize).toBeNull();
        }
        expect(r.totals.keys).toBe(records.length);
        expect(r.totals.expires).toBe(records.filter((x) => x.json.pttl_ms !== null).length);
        const t = r.ttl;
        expect(t.none + t.lt1h + t.lt1d + t.lt7d + t.longer + t.expired).toBe(records.length);
        expect(t.longer).toBe(r.totals.expires);
      });

      it('counts elements as Redis does', async () => {
        const r = await inspection;
        const elements = (x: (typeof records)[number]) => {
          const v = expectedLogical(x.json);
          switch (v.type) {
            case 'string':
              return 1;
            case 'list':
              return v.items.length;
            case 'set':
              return v.members.length;
            case 'hash':
              return v.fields.length;
            case 'zset':
              return v.members.length;
            case 'stream':
              return v.stream.length;
          }
        };
        for (const t of r.types) expect(t.elements, t.type).toBe(records.filter((x) => x.json.type === t.type).reduce((n, x) => n + elements(x), 0));
      });

      if (version !== '2.4.18') {
        it('names the encodings by the type bytes the keys have (the first byte of their DUMP)', async () => {
          const r = await inspection;
          const encodings = Object.fromEntries(r.types.flatMap((t) => t.encodings.map((e) => [String(e.typeByte), e.keys])));
          expect(encodings).toEqual(count(records, (x) => String(x.dump![0])));
          for (const t of r.types) for (const e of t.encodings) expect(e.name).toBe(rdbTypeName(e.typeByte).name);
        });

        it("measures each key's bytes in the file exactly: its DUMP payload minus the footer, plus its name", async () => {
          const byKey = new Map(records.map((x) => [`${x.db}:${x.key.toString('hex')}`, x]));
          const seen: RdbKeyRecord[] = [];
          await walkRdbFile(rdbPath(version), { onKey: (k) => void seen.push(k) });
          expect(seen).toHaveLength(records.length);
          for (const k of seen) {
            const x = byKey.get(`${k.db}:${k.key.toString('hex')}`)!;
            expect(k.fileBytes, x.label).toBe(x.dump!.length - 10 + lengthBytes(k.key.length) + k.key.length);
          }
        });
      }

      it('keeps the biggest keys, largest first, as a full sort would', async () => {
        const r = await inspection;
        const all: RdbKeyRecord[] = [];
        await walkRdbFile(rdbPath(version), { onKey: (k) => void all.push(k) });
        const expected = all.sort((a, b) => b.fileBytes - a.fileBytes).slice(0, 5);
        expect(r.biggestKeys).toHaveLength(5);
        expect(r.biggestKeys.map((k) => k.fileBytes)).toEqual(expected.map((k) => k.fileBytes));
        for (let i = 1; i < r.biggestKeys.length; i++) expect(r.biggestKeys[i - 1].fileBytes).toBeGreaterThanOrEqual(r.biggestKeys[i].fileBytes);
        expect(r.biggestKeys[0].key).toBe('list:large');
      });

      it('sums sizes and the memory estimate over dbs and types', async () => {
        const r = await inspection;
        expect(r.totals.fileBytes).toBe(r.dbs.reduce((n, d) => n + d.fileBytes, 0));
        expect(r.totals.fileBytes).toBe(r.types.reduce((n, t) => n + t.fileBytes, 0));
        expect(r.totals.fileBytes).toBeLessThan(r.fileBytes);
        expect(r.memory.estimatedBytes).toBe(r.totals.memory);
        // Per-db hash tables come on top of the keys.
        expect(r.memory.estimatedBytes).toBeGreaterThan(r.types.reduce((n, t) => n + t.memory, 0));
        expect(r.memory.method).toMatch(/estimate/i);
      });

      if (atLeast(version, 7, 0)) {
        it('lists the function library', async () => {
          expect((await inspection).functions).toEqual([{ library: meta.functions!.library, engine: 'lua', bytes: expect.any(Number) }]);
        });
      }
    });
  }
});

describe('inspectRdb on bad input', () => {
  const { variants } = corruptFiles();
  for (const v of variants) {
    it(`${v.file}: an RdbError with its offset`, async () => {
      const err = await inspectRdb(join(FIXTURES, 'rdb', 'corrupt', v.file)).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(RdbError);
      expect((err as RdbError).code).not.toBe('internal');
      expect((err as RdbError).offset).toBeGreaterThanOrEqual(0);
      expect((err as RdbError).offset).toBeLessThanOrEqual(v.bytes.length);
    });
  }

  it('base.rdb reads: 8 keys', async () => {
    const r = await inspectRdb(join(FIXTURES, 'rdb', 'corrupt', 'base.rdb'));
    expect(r.totals.keys).toBe(8);
  });

  it('a missing file is the file system error, with its code', async () => {
    await expect(inspectRdb('/nonexistent/dump.rdb')).rejects.toMatchObject({ code: 'ENOENT' });
    await expect(inspectRdb(FIXTURES)).rejects.toMatchObject({ code: 'EISDIR' });
  });
});

describe('the memory estimate', () => {
  it('rounds allocations to jemalloc size classes', () => {
    expect([1, 8, 9, 16, 17, 24, 33, 128, 129, 160, 161, 257, 1025, 4097].map(allocSize)).toEqual([8, 8, 16, 16, 32, 32, 48, 128, 160, 160, 192, 320, 1280, 5120]);
  });

  it('matches what Redis 7 reports for simple strings (MEMORY USAGE counts a 24-byte dict entry)', () => {
    const usage = (value: string, key: string) => keyOverhead(key.length, false) - 8 + valueMemory({ type: 'string', value: Buffer.from(value) });
    // MEMORY USAGE on Redis 7.0.15 for these keys of the fixture.
    expect(usage('12345', 'str:int')).toBe(56);
    expect(usage('hello', 'str:embstr')).toBe(72);
    expect(usage('x'.repeat(200), 'str:raw200')).toBe(280);
  });

  it('grows with the data and picks compact encodings for small values', () => {
    const small = valueMemory({ type: 'hash', fields: [[Buffer.from('a'), Buffer.from('1')]] });
    const big = valueMemory({ type: 'hash', fields: Array.from({ length: 1000 }, (_, i): [Buffer, Buffer] => [Buffer.from(`f${i}`), Buffer.from(`v${i}`)]) });
    expect(small).toBeLessThan(64);
    expect(big).toBeGreaterThan(1000 * 50);
    const ints = valueMemory({ type: 'set', members: Array.from({ length: 100 }, (_, i) => Buffer.from(String(i))) });
    expect(ints).toBe(16 + allocSize(8 + 100 * 2));
  });
});

describe('valueDigest', () => {
  it('is equal for equal values and differs otherwise', () => {
    const h = (fields: Array<[string, string]>) => valueDigest({ type: 'hash', fields: fields.map(([f, v]): [Buffer, Buffer] => [Buffer.from(f), Buffer.from(v)]) });
    expect(h([['a', '1']]).equals(h([['a', '1']]))).toBe(true);
    expect(h([['a', '1']]).equals(h([['a', '2']]))).toBe(false);
    expect(h([['a', '1b']]).equals(h([['a1', 'b']]))).toBe(false);
    const s = valueDigest({ type: 'string', value: Buffer.from('x') });
    const l = valueDigest({ type: 'list', items: [Buffer.from('x')] });
    expect(s.equals(l)).toBe(false);
  });
});
