// The pieces of an RDB file source that need no server: the parser's raw values (a key's stored
// bytes + footer = the DUMP payload the server gave), the stand-in source that answers the writer's
// read commands from a payload, and the settled-prefix bookkeeping of the checkpoint.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { crc64, readRdb, type RdbItem } from '../../main/engine/rdb/index.js';
import { FileValues } from '../../main/engine/sources/fileValues.js';
import { checkRdbFile, dumpPayloadOf } from '../../main/engine/sources/rdbFile.js';
import { KeyProgress } from '../../main/engine/sources/rdbFileSource.js';
import { describeDifference, valuesEqual } from '../../main/engine/values/logicalValue.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { chunked, expectedLogical, FIXTURES, loadRecords, rdbFile, VERSIONS } from '../support/rdbFixtures.js';

const id = (db: number, key: Buffer) => `${db}/${key.toString('hex')}`;

describe('readRdb rawValues', () => {
  for (const version of VERSIONS) {
    it(`${version}: each key's raw bytes + the file's version + CRC-64 are the DUMP payload the server gave`, async () => {
      const records = new Map(loadRecords(version).map((r) => [id(r.db, r.key), r]));
      let rdbVersion = 0;
      let keys = 0;
      for await (const item of readRdb(chunked(rdbFile(version), 5), { rawValues: true })) {
        if (item.kind === 'header') rdbVersion = item.version;
        if (item.kind !== 'key') continue;
        keys++;
        const rec = records.get(id(item.db, item.key))!;
        expect(item.raw![0], rec.label).toBe(item.type);
        // 2.4 has no DUMP: there the payload is only checked to parse back to the recorded value.
        if (rec.dump) expect(dumpPayloadOf(item.raw!, rdbVersion).equals(rec.dump), rec.label).toBe(true);
      }
      expect(keys).toBe(records.size);
    });
  }

  it('is absent unless asked for, and big strings (key-start) have none', async () => {
    const file = rdbFile('7.0.15');
    const plain: RdbItem[] = [];
    for await (const item of readRdb(chunked(file, 4096))) plain.push(item);
    expect(plain.some((i) => i.kind === 'key' && i.raw !== undefined)).toBe(false);
    const small: RdbItem[] = [];
    for await (const item of readRdb(chunked(file, 4096), { rawValues: true, chunkBytes: 1000 })) small.push(item);
    expect(small.some((i) => i.kind === 'key-start')).toBe(true);
    expect(small.filter((i) => i.kind === 'key').every((i) => i.kind === 'key' && i.raw !== undefined)).toBe(true);
  });

  it('dumpPayloadOf writes the version little-endian and the CRC-64 of everything before it', () => {
    const p = dumpPayloadOf(Buffer.from([0, 3, 0x61, 0x62, 0x63]), 9);
    expect(p.readUInt16LE(5)).toBe(9);
    expect(p.readBigUInt64LE(7)).toBe(crc64(p.subarray(0, 7)));
  });
});

describe('FileValues: the writer\'s read commands answered from a payload', () => {
  for (const version of VERSIONS) {
    const records = loadRecords(version).filter((r) => r.dump !== null);
    if (records.length === 0) continue;
    it(`${version}: readValue over it gives every recorded value (${records.length} keys)`, async () => {
      const values = new FileValues('test file');
      for (const r of records) values.add(r.db, r.key, r.dump!);
      for (const r of records) {
        // Another Buffer with the same bytes: found by its bytes too.
        const got = await readValue(values.asEndpoint(), r.db, Buffer.from(r.key));
        const expected = expectedLogical(r.json);
        expect(got, r.label).not.toBeNull();
        expect(valuesEqual(got!, expected), `${r.label}: ${describeDifference(got!, expected)}`).toBe(true);
      }
      // Keys not in flight do not exist; a removed key is gone.
      expect(await readValue(values.asEndpoint(), 0, Buffer.from('no such key'))).toBeNull();
      values.remove(records[0].key);
      expect(await readValue(values.asEndpoint(), records[0].db, records[0].key)).toBeNull();
    });
  }
});

describe('KeyProgress', () => {
  it('moves over keys settled in order or out of order; a failed key holds it for good', () => {
    const p = new KeyProgress(0);
    p.settle(1, true);
    p.settle(2, true);
    expect(p.committed).toBe(0);
    p.settle(0, true);
    expect(p.committed).toBe(3);
    p.settle(4, false);
    p.settle(3, true);
    p.settle(5, true);
    expect(p.committed).toBe(4);
    expect(p.allSettled(6)).toBe(false);
  });

  it('starts where a resumed run left off', () => {
    const p = new KeyProgress(10);
    p.settle(3, true);
    p.settle(10, true);
    expect(p.committed).toBe(11);
    expect(p.allSettled(11)).toBe(true);
  });
});

describe('checkRdbFile', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-rdbcheck-'));

  it('accepts an RDB file and reads its version', async () => {
    const f = await checkRdbFile('a', path.join(FIXTURES, 'rdb', '6.2.14', 'dump.rdb'));
    expect(f.rdbVersion).toBe(9);
    expect(f.size).toBeGreaterThan(0);
  });

  it('names the file and the reason: missing, a directory, not an RDB file, too short', async () => {
    const missing = path.join(dir, 'nope.rdb');
    await expect(checkRdbFile('a', missing)).rejects.toThrow(`source a: cannot read the RDB file ${missing}: no such file or directory (ENOENT)`);
    await expect(checkRdbFile('a', dir)).rejects.toThrow(/it is a directory, not a file/);
    const text = path.join(dir, 'notes.txt');
    fs.writeFileSync(text, 'hello world, this is not redis');
    await expect(checkRdbFile('a', text)).rejects.toThrow(new RegExp(`${text}: .*not an RDB file: it starts with "hello", not "REDIS"`));
    const short = path.join(FIXTURES, 'rdb', 'corrupt', '01-truncated-header.rdb');
    await expect(checkRdbFile('a', short)).rejects.toThrow(`${short}: it is only 7 bytes long, too short for an RDB file`);
  });
});
