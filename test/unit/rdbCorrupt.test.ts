import { describe, expect, it } from 'vitest';
import { crc64, parseDumpPayload, RdbError, readRdb, type RdbErrorCode, type RdbReadOptions } from '../../main/engine/rdb/index.js';
import { chunked, corruptFiles, dumpPayload, loadRecords } from '../support/rdbFixtures.js';

/** Reads a whole file; returns the RdbError it gives (fails the test on success or another error). */
async function fileError(bytes: Buffer, chunk: number, opts?: RdbReadOptions): Promise<RdbError> {
  try {
    for await (const item of readRdb(chunked(bytes, chunk), opts)) void item;
  } catch (e) {
    if (!(e instanceof RdbError)) throw new Error(`expected an RdbError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error('expected an RdbError, but the input was accepted');
}

function dumpError(payload: Buffer, verifyChecksum = true): RdbError {
  try {
    parseDumpPayload(payload, { verifyChecksum });
  } catch (e) {
    if (!(e instanceof RdbError)) throw new Error(`expected an RdbError, got ${String(e)}`, { cause: e });
    return e;
  }
  throw new Error('expected an RdbError, but the payload was accepted');
}

/** What each damaged file must be reported as: error code, offset range, and words of the reason. */
const EXPECTED: Record<string, { code: RdbErrorCode[]; offset: [number, number]; reason: RegExp }> = {
  '01-truncated-header.rdb': { code: ['truncated'], offset: [0, 0], reason: /unexpected end of input reading the file header/ },
  '02-truncated-after-header.rdb': { code: ['truncated'], offset: [9, 9], reason: /unexpected end of input reading the next opcode/ },
  '03-truncated-in-aux.rdb': { code: ['truncated'], offset: [21, 23], reason: /unexpected end of input reading aux field value/ },
  '04-truncated-in-lzf-value.rdb': { code: ['truncated'], offset: [140, 175], reason: /unexpected end of input reading .*LZF.*doc:lzf/ },
  '05-truncated-before-eof.rdb': { code: ['truncated'], offset: [348, 348], reason: /unexpected end of input reading the next opcode/ },
  '06-truncated-in-checksum.rdb': { code: ['truncated'], offset: [349, 353], reason: /unexpected end of input reading the CRC-64 checksum/ },
  '07-bad-checksum.rdb': { code: ['checksum'], offset: [349, 349], reason: /CRC-64 is 83cc7990c788ad85 but the file ends with 83cc7990c788ad7a/ },
  '08-bad-type-byte.rdb': { code: ['corrupt'], offset: [85, 85], reason: /unknown value type 63/ },
  // A 4 GB length: refused as over maxRecordBytes while more input may come, as truncated once the input has ended.
  '09-bad-length.rdb': { code: ['limit', 'truncated'], offset: [273, 273], reason: /key name.*4294967280|more than maxRecordBytes/ },
  '10-bad-lzf-data.rdb': { code: ['corrupt'], offset: [176, 176], reason: /invalid LZF data: back reference 8\d\d\d bytes back, but only 30 bytes have been produced.*doc:lzf/ },
};

describe('damaged RDB files (rdb/corrupt)', () => {
  const { base, variants } = corruptFiles();

  it('base.rdb is intact', async () => {
    const kinds: string[] = [];
    for await (const item of readRdb(chunked(base, 7))) kinds.push(item.kind);
    expect(kinds.filter((k) => k === 'key')).toHaveLength(8);
    expect(kinds[kinds.length - 1]).toBe('end');
  });

  it('has an expectation for every damaged file', () => {
    expect(variants.map((v) => v.file).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const v of variants) {
    for (const [chunk, opts] of [
      [7, undefined],
      [v.bytes.length, undefined],
      [3, { chunkBytes: 100 }],
    ] as Array<[number, RdbReadOptions | undefined]>) {
      it(`${v.file} (${v.damage.split(':')[0]}), read in ${chunk}-byte chunks${opts ? ', big strings streamed' : ''}`, async () => {
        const err = await fileError(v.bytes, chunk, opts);
        const want = EXPECTED[v.file];
        expect(want.code, err.message).toContain(err.code);
        expect(err.offset, err.message).toBeGreaterThanOrEqual(want.offset[0]);
        expect(err.offset, err.message).toBeLessThanOrEqual(want.offset[1]);
        expect(err.message).toContain(`at offset ${err.offset}: `);
        // Streamed LZF strings report the cut in their own words.
        const reason = opts && v.file.startsWith('04') ? /unexpected end of input reading LZF-compressed string value/ : want.reason;
        expect(err.message).toMatch(reason);
      });
    }
  }

  it('base.rdb cut at every byte position gives a truncation error', async () => {
    for (let n = 0; n < base.length; n++) {
      for (const chunk of [5, n || 1]) {
        const err = await fileError(base.subarray(0, n), chunk);
        expect(err.code, `cut at ${n}: ${err.message}`).toBe('truncated');
        expect(err.offset, `cut at ${n}: ${err.message}`).toBeLessThanOrEqual(n);
      }
    }
  });

  it('a file with a wrong checksum can be read with verifyChecksum: false', async () => {
    const bad = variants.find((v) => v.file.startsWith('07'))!;
    let ok: boolean | null | undefined;
    for await (const item of readRdb(chunked(bad.bytes, 64), { verifyChecksum: false })) if (item.kind === 'end') ok = item.checksumOk;
    expect(ok).toBe(false);
  });
});

describe('damaged DUMP payloads', () => {
  const records = loadRecords('7.4.1').filter((r) => r.dump && r.dump.length < 600);
  const payloads = records.map((r) => ({ label: r.label, payload: r.dump! }));

  it('every truncation of every small payload is refused', () => {
    let n = 0;
    for (const { label, payload } of payloads) {
      for (let cut = 0; cut < payload.length; cut++) {
        // As cut (footer gone or damaged) ...
        const err = dumpError(payload.subarray(0, cut));
        expect(['truncated', 'checksum', 'unsupported', 'corrupt'], `${label} cut at ${cut}: ${err.message}`).toContain(err.code);
        // ... and with the value cut but a valid footer, so that only the value parser can notice.
        if (cut < payload.length - 10) {
          const refooted = dumpPayload(payload.subarray(0, cut), 12, crc64);
          const e2 = dumpError(refooted);
          expect(['truncated', 'corrupt'], `${label} value cut at ${cut}: ${e2.message}`).toContain(e2.code);
          expect(e2.offset).toBeLessThanOrEqual(cut);
          n++;
        }
      }
    }
    expect(n).toBeGreaterThan(1000);
  });

  it('trailing bytes after the value are refused', () => {
    const p = payloads[0].payload;
    const longer = dumpPayload(Buffer.concat([p.subarray(0, p.length - 10), Buffer.from([0])]), 12, crc64);
    expect(dumpError(longer).message).toMatch(/1 unexpected bytes after the value/);
  });

  it('a payload from a newer RDB version is reported as unsupported', () => {
    const p = payloads[0].payload;
    const err = dumpError(dumpPayload(p.subarray(0, p.length - 10), 13, crc64));
    expect(err.code).toBe('unsupported');
    expect(err.message).toMatch(/RDB version 13 is newer/);
  });
});
