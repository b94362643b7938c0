import { ByteReader, type Origin } from '../byteReader.js';
import { lzfDecompress, lzfMaxOutput } from '../lzf.js';
import { ENC_INT16, ENC_INT32, ENC_INT8, ENC_LZF, readLength, readLengthOrEncoding } from './rdbLength.js';

/**
 * RDB strings (rdb.c rdbGenericLoadStringObject): a length and the bytes, or an integer stored in
 * 1, 2 or 4 little-endian bytes (the string is its decimal text), or LZF data: compressed length,
 * uncompressed length, compressed bytes.
 */

/** How a string is stored, read up to where its bytes start. */
export type StringHead =
  | { form: 'raw'; length: number }
  | { form: 'int'; text: Buffer }
  | { form: 'lzf'; compressedLength: number; length: number };

export function readStringHead(r: ByteReader, what: string): StringHead {
  const at = r.pos;
  const { encoded, value } = readLengthOrEncoding(r, what);
  if (!encoded) {
    if (typeof value === 'bigint') r.fail(`${what}: length ${value} is out of range`, 'corrupt', at);
    return { form: 'raw', length: value };
  }
  switch (value) {
    case ENC_INT8:
      return { form: 'int', text: Buffer.from(String(r.i8(what))) };
    case ENC_INT16:
      return { form: 'int', text: Buffer.from(String(r.i16le(what))) };
    case ENC_INT32:
      return { form: 'int', text: Buffer.from(String(r.i32le(what))) };
    case ENC_LZF: {
      const compressedLength = readLength(r, `${what} (compressed length)`);
      const length = readLength(r, `${what} (uncompressed length)`);
      if (length > lzfMaxOutput(compressedLength)) {
        r.fail(`${what}: uncompressed length ${length} is impossible for ${compressedLength} LZF-compressed bytes`, 'corrupt', at);
      }
      return { form: 'lzf', compressedLength, length };
    }
    default:
      return r.fail(`${what}: unknown string encoding ${value} (byte 0x${(0xc0 | Number(value)).toString(16)})`, 'corrupt', at);
  }
}

/** Reads a string; the result never shares memory with the input. */
export function readString(r: ByteReader, what: string): Buffer {
  return readStringBody(r, readStringHead(r, what), what);
}

/** Reads the bytes of a string whose head has been read. */
export function readStringBody(r: ByteReader, head: StringHead, what: string): Buffer {
  switch (head.form) {
    case 'raw':
      return r.copy(head.length, what);
    case 'int':
      return head.text;
    case 'lzf':
      return decompressBody(r, head.compressedLength, head.length, what);
  }
}

/**
 * Reads a string that is decoded further right away (ziplist, listpack…): returns a reader over
 * its bytes, not copied when stored plainly, with error offsets that point into the input.
 */
export function readBlob(r: ByteReader, label: string): ByteReader {
  const start = r.offset;
  const head = readStringHead(r, label);
  switch (head.form) {
    case 'raw': {
      const origin: Origin = { base: r.origin.decompressed ? r.origin.base : r.origin.base + r.pos, label, decompressed: r.origin.decompressed };
      const bytes = r.view(head.length, label);
      return new ByteReader(bytes, r.ctx, origin);
    }
    case 'int':
      return new ByteReader(head.text, r.ctx, { base: start, label, decompressed: true });
    case 'lzf': {
      const bytes = decompressBody(r, head.compressedLength, head.length, label);
      return new ByteReader(bytes, r.ctx, { base: start, label, decompressed: true });
    }
  }
}

/** Skips a string without decoding it (module data Ferry does not read). */
export function skipString(r: ByteReader, what: string): void {
  const head = readStringHead(r, what);
  if (head.form === 'raw') r.skip(head.length, what);
  else if (head.form === 'lzf') r.skip(head.compressedLength, what);
}

function decompressBody(r: ByteReader, compressedLength: number, length: number, what: string): Buffer {
  const ctx = r.ctx;
  if (length > ctx.limits.maxValueBytes || ctx.decompressed + length > ctx.limits.maxValueBytes) {
    r.fail(`${what}: decompressing ${length} more bytes would exceed maxValueBytes (${ctx.limits.maxValueBytes}) for one key`, 'limit');
  }
  const dataAt = r.pos;
  const data = r.view(compressedLength, `${what} (LZF data)`);
  ctx.decompressed += length;
  return lzfDecompress(data, length, (p, reason) => r.fail(`${what}: invalid LZF data: ${reason}`, 'corrupt', dataAt + p));
}
