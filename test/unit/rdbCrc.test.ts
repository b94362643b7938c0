import { describe, expect, it } from 'vitest';
import { crc64, Crc64, lzfCompress, lzfDecompress, LzfStreamDecoder, RdbError } from '../../main/engine/rdb/index.js';
import { loadRecords, VERSIONS } from '../support/rdbFixtures.js';

const fail = (p: number, reason: string): never => {
  throw new RdbError(p, reason);
};

/** Bit-by-bit CRC-64/Jones, reflected: the definition, to check the table-driven version. */
function slowCrc64(data: Uint8Array): bigint {
  const poly = 0x95ac9329ac4bc9b5n;
  let crc = 0n;
  for (const byte of data) {
    crc ^= BigInt(byte);
    for (let k = 0; k < 8; k++) crc = crc & 1n ? (crc >> 1n) ^ poly : crc >> 1n;
  }
  return crc;
}

/** The LZF-compressed strings in the fixtures' DUMP payloads (type 0, encoding byte 0xC3). */
function lzfStrings(): Array<{ label: string; compressed: Buffer; length: number; expected: Buffer }> {
  const out = [];
  for (const version of VERSIONS) {
    for (const rec of loadRecords(version)) {
      const d = rec.dump;
      if (!d || d[0] !== 0 || d[1] !== 0xc3) continue;
      // Two RDB lengths follow 0xC3 (compressed, then uncompressed); the fixtures use 1, 2 or 5-byte forms.
      let at = 2;
      const len = (): number => {
        const b = d[at];
        if (b >> 6 === 0) return (at++, b & 0x3f);
        if (b >> 6 === 1) return ((at += 2), ((b & 0x3f) << 8) | d[at - 1]);
        at += 5;
        return d.readUInt32BE(at - 4);
      };
      const clen = len();
      const ulen = len();
      out.push({ label: `${version} ${rec.label}`, compressed: d.subarray(at, at + clen), length: ulen, expected: Buffer.from((rec.json.value as { hex: string }).hex, 'hex') });
    }
  }
  return out;
}

describe('CRC-64', () => {
  it('has the check value of CRC-64/Jones as Redis uses it', () => {
    expect(crc64(Buffer.from('123456789'))).toBe(0xe9c6d914c4b8d9can);
    expect(crc64(Buffer.alloc(0))).toBe(0n);
  });

  it('matches the bitwise definition, whole or fed in pieces', () => {
    const data = Buffer.from(Array.from({ length: 1000 }, (_, i) => (i * 131 + 7) & 255));
    const want = slowCrc64(data);
    expect(crc64(data)).toBe(want);
    for (const cut of [1, 7, 8, 9, 500, 999]) expect(new Crc64().update(data.subarray(0, cut)).update(data.subarray(cut)).value).toBe(want);
  });
});

describe('LZF', () => {
  const strings = lzfStrings();

  it('finds LZF-compressed strings in the fixtures', () => {
    expect(strings.length).toBeGreaterThanOrEqual(11);
  });

  it('decompresses every fixture string to the recorded value, at once and streamed in pieces', () => {
    for (const s of strings) {
      expect(lzfDecompress(s.compressed, s.length, fail).equals(s.expected), s.label).toBe(true);
      for (const [inPiece, outPiece] of [[1, 1000], [5, 300], [64, 37], [s.compressed.length, 4096]]) {
        const decoder = new LzfStreamDecoder(s.length, s.compressed.length, outPiece, fail);
        const out: Buffer[] = [];
        for (let i = 0; i < s.compressed.length; i += inPiece) out.push(...decoder.push(s.compressed.subarray(i, i + inPiece)));
        out.push(...decoder.end());
        for (const piece of out.slice(0, -1)) expect(piece.length).toBe(outPiece);
        expect(Buffer.concat(out).equals(s.expected), `${s.label} in ${inPiece}/${outPiece}`).toBe(true);
      }
    }
  });

  it('round-trips the fixture values and other data through lzfCompress', () => {
    const samples = [...strings.map((s) => s.expected), Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(100_000, 'ab'), Buffer.from(Array.from({ length: 5000 }, (_, i) => (i * i) & 255))];
    for (const data of samples) {
      const packed = lzfCompress(data);
      expect(lzfDecompress(packed, data.length, fail).equals(data)).toBe(true);
    }
    // A repetitive value shrinks.
    expect(lzfCompress(Buffer.alloc(100_000, 'ab')).length).toBeLessThan(2000);
  });

  it('refuses bad data with the position and reason', () => {
    // A back reference before the start of the output.
    expect(() => lzfDecompress(Buffer.from([0x00, 0x41, 0x20, 0x10]), 4, fail)).toThrow(/back reference 17 bytes back, but only 1/);
    // More output than stated, less than stated, a cut literal run, an impossible length.
    expect(() => lzfDecompress(Buffer.from([0x02, 0x41, 0x42, 0x43]), 2, fail)).toThrow(/exceed the stated 2/);
    expect(() => lzfDecompress(Buffer.from([0x00, 0x41]), 2, fail)).toThrow(/ends after 1 of the stated 2/);
    expect(() => lzfDecompress(Buffer.from([0x05, 0x41]), 6, fail)).toThrow(/past the end/);
    expect(() => lzfDecompress(Buffer.from([0x00, 0x41]), 10_000, fail)).toThrow(/impossible/);
  });
});
