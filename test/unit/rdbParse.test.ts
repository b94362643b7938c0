import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';
import { payloadType } from '../../main/engine/keys/keyTypes.js';
import { describeDifference, valuesEqual, type LogicalValue } from '../../main/engine/values/logicalValue.js';
import { crc64, lzfCompress, parseDumpPayload, parseFunctionDump, RdbError, readRdb, type RdbItem } from '../../main/engine/rdb/index.js';
import {
  chunked,
  dumpPayload,
  expectedLogical,
  listpackOf,
  loadMeta,
  loadRecords,
  moduleId,
  normaliseParsed,
  normaliseRecord,
  rdbFile,
  rdbFileOf,
  rdbLen,
  rdbStr,
  VERSIONS,
  type FixtureRecord,
} from '../support/rdbFixtures.js';

const key = (db: number, k: Buffer): string => `${db}/${k.toString('hex')}`;

async function collect(input: AsyncIterable<Buffer>, opts?: Parameters<typeof readRdb>[1]): Promise<RdbItem[]> {
  const items: RdbItem[] = [];
  for await (const item of readRdb(input, opts)) items.push(item);
  return items;
}

describe('DUMP payloads', () => {
  for (const version of VERSIONS) {
    const records = loadRecords(version).filter((r) => r.dump !== null);
    if (records.length === 0) continue;
    const meta = loadMeta(version);

    it(`${version}: every payload parses to the recorded value and type (${records.length} keys)`, () => {
      for (const rec of records) {
        const parsed = parseDumpPayload(rec.dump!);
        expect(parsed.rdbVersion, rec.label).toBe(meta.rdb_version);
        expect(parsed.type, rec.label).toBe(rec.dump![0]);
        expect(payloadType(rec.dump!), rec.label).toBe(rec.json.type);
        expect(parsed.value.type, rec.label).toBe(rec.json.type);
        expect(normaliseParsed(parsed.value), `${version} ${rec.label} (${rec.json.role})`).toEqual(normaliseRecord(rec.json));
        // The parsed value is a LogicalValue as the rest of the engine uses it.
        const logical: LogicalValue = parsed.value;
        const expected = expectedLogical(rec.json);
        expect(valuesEqual(logical, expected), `${rec.label}: ${describeDifference(logical, expected)}`).toBe(true);
      }
    });

    it(`${version}: a payload with a wrong CRC is refused, and accepted when not verifying`, () => {
      const rec = records[0];
      const bad = Buffer.from(rec.dump!);
      bad[bad.length - 1] ^= 0x01;
      expect(() => parseDumpPayload(bad)).toThrow(RdbError);
      expect(() => parseDumpPayload(bad)).toThrow(/CRC-64/);
      expect(parseDumpPayload(bad, { verifyChecksum: false }).value.type).toBe(rec.json.type);
      // Unlike an RDB file's, a DUMP CRC of 0 does not mean "not computed": RESTORE checks it always.
      const zero = Buffer.from(rec.dump!);
      zero.fill(0, zero.length - 8);
      expect(() => parseDumpPayload(zero)).toThrow(/CRC-64/);
    });
  }

  it('covers every value type byte the fixtures hold', () => {
    const seen = new Set<number>();
    for (const version of VERSIONS) for (const r of loadRecords(version)) if (r.dump) seen.add(r.dump[0]);
    // 1..25 minus those no default-config server writes (6, 7 module; 8 unused; 22, 23 pre-GA); 9 only in 2.4 files.
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 24, 25]);
  });

  it('hash field TTLs (7.4+) match HPEXPIRETIME', () => {
    let checked = 0;
    for (const version of VERSIONS) {
      for (const rec of loadRecords(version)) {
        if (!rec.dump || rec.json.type !== 'hash') continue;
        const v = parseDumpPayload(rec.dump).value;
        if (v.type !== 'hash') throw new Error('not a hash');
        const want = (rec.json.field_expire_ms ?? []).map(([f, ms]) => [f, ms]).sort();
        expect((v.fieldExpiresMs ?? []).map(([f, ms]) => [f.toString('hex'), ms]).sort(), `${version} ${rec.label}`).toEqual(want);
        if (want.length) checked++;
      }
    }
    expect(checked).toBe(4);
  });

  it('FUNCTION DUMP payloads hold the library code', () => {
    for (const version of VERSIONS) {
      const fn = loadMeta(version).functions;
      if (!fn) continue;
      const parsed = parseFunctionDump(Buffer.from(fn.function_dump_hex, 'hex'));
      expect(parsed.libraries.map((b) => b.toString()), version).toEqual([fn.code]);
    }
  });
});

describe('RDB files, streamed', () => {
  for (const version of VERSIONS) {
    it(`${version}: dump.rdb fed 7 bytes at a time gives exactly the recorded keys, TTLs and checksum`, async () => {
      const file = rdbFile(version);
      const meta = loadMeta(version);
      const records = new Map<string, FixtureRecord>(loadRecords(version).map((r) => [key(r.db, r.key), r]));
      const items = await collect(chunked(file, 7));

      expect(items[0]).toEqual({ kind: 'header', version: meta.rdb_version, offset: 0 });
      const end = items[items.length - 1];
      expect(end.kind).toBe('end');
      if (end.kind === 'end') expect(end.checksumOk).toBe(meta.rdb_version >= 5 ? true : null);

      const seen = new Set<string>();
      for (const item of items) {
        if (item.kind === 'key-start' || item.kind === 'key-chunk') throw new Error('no string is over the default chunkBytes');
        if (item.kind !== 'key') continue;
        const k = key(item.db, item.key);
        const rec = records.get(k);
        expect(rec, `unexpected key ${k}`).toBeDefined();
        expect(seen.has(k), `key ${k} twice`).toBe(false);
        seen.add(k);
        expect(item.value.type, rec!.label).toBe(rec!.json.type);
        expect(normaliseParsed(item.value), `${version} ${rec!.label}`).toEqual(normaliseRecord(rec!.json));
        expect(item.expireAtMs, `${rec!.label} expire`).toBe(rec!.json.pttl_ms);
        if (rec!.dump) expect(item.type, rec!.label).toBe(rec!.dump[0]);
      }
      expect(seen.size).toBe(records.size);

      const fn = meta.functions;
      const functions = items.filter((i) => i.kind === 'function');
      if (fn) {
        expect(functions).toHaveLength(1);
        const f = functions[0];
        if (f.kind === 'function') {
          expect(f.code.toString()).toBe(fn.code);
          expect(f.engine).toBe('lua');
          expect(f.library).toBe(fn.library);
        }
      } else expect(functions).toHaveLength(0);

      // Nothing but the documented kinds, and the aux fields name the server.
      const kinds = new Set(items.map((i) => i.kind));
      for (const k of kinds) expect(['header', 'aux', 'db', 'resize', 'function', 'key', 'end']).toContain(k);
      const redisVer = items.find((i) => i.kind === 'aux' && i.key === 'redis-ver');
      if (meta.rdb_version >= 7 && redisVer?.kind === 'aux') expect(redisVer.value.toString()).toMatch(/^\d+\.\d+\.\d+$/);
    });
  }

  it('chunk size does not matter (1, 2, 3, 64 bytes, whole file)', async () => {
    const file = rdbFile('7.4.1');
    const reference = JSON.stringify((await collect(chunked(file, file.length))).map(summary));
    for (const size of [1, 2, 3, 64]) expect(JSON.stringify((await collect(chunked(file, size))).map(summary)), `chunks of ${size}`).toBe(reference);
  });

  it('a Node Readable stream works as input', async () => {
    const { Readable } = await import('node:stream');
    const file = rdbFile('6.2.14');
    const items = await collect(Readable.from(chunked(file, 1000)));
    expect(items.filter((i) => i.kind === 'key')).toHaveLength(loadRecords('6.2.14').length);
  });

  it('strings over chunkBytes come as key-start + key-chunk items (raw and LZF), with the same bytes', async () => {
    for (const version of ['2.4.18', '7.0.15', '8.0-m01']) {
      const records = new Map(loadRecords(version).map((r) => [key(r.db, r.key), r]));
      const items = await collect(chunked(rdbFile(version), 7), { chunkBytes: 100 });
      let big = 0;
      for (let i = 0; i < items.length; i++) {
        const item = items[i];
        if (item.kind !== 'key-start') continue;
        big++;
        const parts: Buffer[] = [];
        for (;;) {
          const chunk = items[++i];
          expect(chunk.kind).toBe('key-chunk');
          if (chunk.kind !== 'key-chunk') break;
          expect(chunk.data.length).toBeLessThanOrEqual(100);
          parts.push(chunk.data);
          if (chunk.last) break;
        }
        const value = Buffer.concat(parts);
        const rec = records.get(key(item.db, item.key))!;
        expect(item.length).toBe(value.length);
        expect(value.toString('hex'), rec.label).toBe((rec.json.value as { hex: string }).hex);
        expect(item.expireAtMs).toBe(rec.json.pttl_ms);
      }
      // The raw 200-byte string, the LZF-compressed text, the bitmap (and HLLs where present) at least.
      expect(big, version).toBeGreaterThanOrEqual(3);
    }
  });

  it('a consumer may stop early; the source is closed', async () => {
    let closed = false;
    const file = rdbFile('7.2.6');
    async function* source(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; i < file.length; i += 100) yield file.subarray(i, i + 100);
      } finally {
        closed = true;
      }
    }
    for await (const item of readRdb(source())) if (item.kind === 'key') break;
    expect(closed).toBe(true);
  });

  it('stopAtEnd hands back what follows the RDB data', async () => {
    const file = rdbFile('7.0.15');
    const items = await collect(chunked(Buffer.concat([file, Buffer.from('+more')]), 4096), { stopAtEnd: true });
    const end = items[items.length - 1];
    expect(end.kind === 'end' && end.rest?.toString()).toBe('+more');
    await expect(collect(chunked(Buffer.concat([file, Buffer.from('x')]), 4096))).rejects.toThrow(/after the end/);
  });

  it('parse speed (informational)', async () => {
    const file = rdbFile('7.4.1');
    const copies = 40;
    const t = performance.now();
    let keys = 0;
    for (let i = 0; i < copies; i++) for await (const item of readRdb(chunked(file, 65536))) if (item.kind === 'key') keys++;
    const seconds = (performance.now() - t) / 1000;
    const mb = (file.length * copies) / 1e6;
    console.log(`readRdb: ${mb.toFixed(1)} MB (${keys} keys) in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MB/s`);
    expect(keys).toBe(44 * copies);
  });
});

describe('hand-built inputs (what default-config servers do not write)', () => {
  const b = (...parts: Array<Buffer | number[]>): Buffer => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
  const file = (version: number, ...parts: Array<Buffer | number[]>): Buffer => rdbFileOf(version, b(...parts), crc64);
  const stringKey = (k: string, v: string): Buffer => b([0], rdbStr(k), rdbStr(v));

  it('module values are refused naming the module type', () => {
    for (const type of [6, 7]) {
      const payload = dumpPayload(b([type], rdbLen(moduleId('ReJSON-RL', 3)), [2, 5, 0]), 9, crc64);
      const err = (() => {
        try {
          parseDumpPayload(payload);
        } catch (e) {
          return e;
        }
      })();
      expect(err).toBeInstanceOf(RdbError);
      expect((err as RdbError).code).toBe('unsupported');
      expect((err as RdbError).message).toMatch(/module type "ReJSON-RL" \(id 0x[0-9a-f]+, encoding version 3, RDB type \d\)/);
    }
  });

  it('module aux data is skipped and reported; LRU idle and LFU frequency go with the next key', async () => {
    const aux = b([0xf7], rdbLen(moduleId('mymodule1', 2)), rdbLen(2), rdbLen(1), rdbLen(2), rdbLen(5), rdbLen(5), rdbStr('abc'), rdbLen(4), Buffer.alloc(8), rdbLen(3), Buffer.alloc(4), rdbLen(0));
    const bytes = file(9, aux, [0xfe, 0], [0xf8], rdbLen(100), stringKey('a', '1'), [0xf9, 5], stringKey('b', '2'), stringKey('c', '3'));
    const items = await collect(chunked(bytes, 3));
    expect(items.map((i) => i.kind)).toEqual(['header', 'module-aux', 'db', 'key', 'key', 'key', 'end']);
    expect(items[1]).toMatchObject({ kind: 'module-aux', moduleName: 'mymodule1', encodingVersion: 2, when: 1 });
    expect(items[3]).toMatchObject({ key: Buffer.from('a'), idleSeconds: 100 });
    expect(items[4]).toMatchObject({ key: Buffer.from('b'), lfuFreq: 5 });
    expect(items[5]).not.toHaveProperty('idleSeconds');
    expect(items[5]).not.toHaveProperty('lfuFreq');
  });

  it('slot info (0xF4) is reported; unknown opcodes and formats are refused by name', async () => {
    const items = await collect(chunked(file(12, [0xf4], rdbLen(7), rdbLen(3), rdbLen(1), stringKey('k', 'v')), 5));
    expect(items[1]).toEqual({ kind: 'slot-info', slot: 7, size: 3, expiresSize: 1, offset: 9 });
    await expect(collect(chunked(file(12, [0xf0]), 5))).rejects.toThrow(/offset 9: unknown opcode 0xf0/);
    await expect(collect(chunked(file(10, [0xf6], rdbStr('x')), 5))).rejects.toThrow(/0xf6 .*not supported/);
    await expect(collect(chunked(file(13), 5))).rejects.toThrow(/RDB version 13 is not supported/);
    await expect(collect(chunked(Buffer.from('REDIX0009\xff'), 5))).rejects.toThrow(/not an RDB file/);
  });

  it('an RDB checksum of 0 means "not computed" (rdbchecksum no)', async () => {
    const bytes = file(9, [0xfe, 0], stringKey('k', 'v'));
    bytes.fill(0, bytes.length - 8);
    const items = await collect(chunked(bytes, 4));
    expect(items[items.length - 1]).toMatchObject({ kind: 'end', checksumOk: null });
  });

  it('quicklist 2 plain nodes (elements stored alone) and packed nodes', () => {
    const value = b([18], rdbLen(3), rdbLen(1), rdbStr('one big element'), rdbLen(2), rdbStr(listpackOf(['a', 'b'])), rdbLen(1), rdbStr('tail'));
    const parsed = parseDumpPayload(dumpPayload(value, 11, crc64));
    expect(normaliseParsed(parsed.value)).toEqual(['one big element', 'a', 'b', 'tail'].map((s) => Buffer.from(s).toString('hex')));
    const bad = b([18], rdbLen(1), rdbLen(3), rdbStr('x'));
    expect(() => parseDumpPayload(dumpPayload(bad, 11, crc64))).toThrow(/invalid quicklist container kind 3/);
  });

  it('multi-megabyte strings stream in chunkBytes pieces, raw and LZF-compressed, read in 64 KB chunks', async () => {
    const raw = Buffer.from(Array.from({ length: 3_000_000 }, (_, i) => (i * 2654435761) >>> 24));
    const text = Buffer.alloc(5_000_000, 'Ferry moves Redis data. ');
    const packed = lzfCompress(text);
    const lzfString = b([0xc3], rdbLen(packed.length), rdbLen(text.length), packed);
    const bytes = file(9, [0xfe, 0], [0], rdbStr('raw'), rdbStr(raw), [0xfc], Buffer.from(new BigUint64Array([4102444800000n]).buffer), [0], rdbStr('lzf'), lzfString, stringKey('small', 'x'));
    const got = new Map<string, Buffer[]>();
    let current = '';
    for await (const item of readRdb(chunked(bytes, 65536), { chunkBytes: 1 << 20 })) {
      if (item.kind === 'key-start') {
        current = item.key.toString();
        got.set(current, []);
        if (current === 'lzf') expect(item.expireAtMs).toBe(4102444800000);
        expect(item.length).toBe(current === 'raw' ? raw.length : text.length);
      } else if (item.kind === 'key-chunk') {
        expect(item.data.length).toBeLessThanOrEqual(1 << 20);
        got.get(current)!.push(item.data);
      } else if (item.kind === 'key') expect(item.key.toString()).toBe('small');
    }
    expect(Buffer.concat(got.get('raw')!).equals(raw)).toBe(true);
    expect(Buffer.concat(got.get('lzf')!).equals(text)).toBe(true);
    expect(got.get('lzf')!.length).toBe(5);
  });

  it('a 128 MB raw string and a 128 MB LZF-compressed string pass through in bounded memory', async () => {
    const size = 128 << 20;
    const piece = Buffer.alloc(1 << 20, 'x');
    // LZF: 32 literal bytes, then back references of 264 bytes, 32 bytes back (the pattern repeats).
    const pattern = Buffer.from('0123456789abcdefghijklmnopqrstuv');
    const refs = Math.floor(size / 264);
    const lzfSize = 32 + refs * 264;
    const backRefs = Buffer.alloc(3 * 4096);
    for (let i = 0; i < backRefs.length; i += 3) backRefs.set([0xe0, 255, 31], i);
    async function* input(): AsyncGenerator<Buffer> {
      yield Buffer.from('REDIS0009');
      yield b([0xfe, 0, 0], rdbStr('raw'), rdbLen(size));
      for (let i = 0; i < size / piece.length; i++) yield piece;
      yield b([0], rdbStr('lzf'), [0xc3], rdbLen(33 + refs * 3), rdbLen(lzfSize), [31], pattern);
      for (let done = 0; done < refs; done += 4096) yield backRefs.subarray(0, 3 * Math.min(4096, refs - done));
      yield Buffer.alloc(9, 0).fill(0xff, 0, 1); // EOF, checksum 0 (not computed)
    }
    // Measure what is live, not garbage waiting for a collection.
    setFlagsFromString('--expose-gc');
    const gc = runInNewContext('gc') as () => void;
    gc();
    const before = process.memoryUsage();
    let peak = 0;
    let chunks = 0;
    const lengths = new Map<string, number>();
    let key = '';
    let lzfOk = true;
    for await (const item of readRdb(input(), { chunkBytes: 4 << 20 })) {
      if (item.kind === 'key-start') key = item.key.toString();
      if (item.kind === 'key-chunk') {
        lengths.set(key, (lengths.get(key) ?? 0) + item.data.length);
        if (key === 'lzf') lzfOk &&= item.data[0] === pattern[(lengths.get(key)! - item.data.length) % 32];
        if (++chunks % 2 === 0) {
          gc();
          const m = process.memoryUsage();
          peak = Math.max(peak, m.arrayBuffers - before.arrayBuffers);
        }
      }
    }
    expect(Object.fromEntries(lengths)).toEqual({ raw: size, lzf: lzfSize });
    expect(lzfOk).toBe(true);
    // Buffers live: a few 4 MB pieces (the one handed out, the one held back, one just decoded,
    // the LZF output window; freed backing stores may lag a collection), not the 128 MB string.
    console.log(`huge strings: at most ${(peak / 2 ** 20).toFixed(1)} MB of buffers live`);
    expect(peak).toBeLessThan(64 << 20);
  });
});

function summary(item: RdbItem): unknown {
  switch (item.kind) {
    case 'key':
      return [item.db, item.key.toString('hex'), item.type, item.expireAtMs, normaliseParsed(item.value)];
    case 'aux':
      return [item.key, item.value.toString('hex'), item.offset];
    case 'function':
      return [item.code.toString('hex'), item.offset];
    default:
      return item;
  }
}
