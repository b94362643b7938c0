import { printableBytes } from '../values/logicalValue.js';
import { NeedMore, RdbError, type RdbErrorCode } from './rdbErrors.js';

/** Limits that keep a corrupt or hostile input from allocating unbounded memory. */
export interface ReadLimits {
  /** The most bytes one decompressed string may have, and all of one key's together. */
  maxValueBytes: number;
}

/** Redis strings are at most 512 MB unless proto-max-bulk-len was raised. */
export const DEFAULT_MAX_VALUE_BYTES = 512 * 1024 * 1024;

export function readLimits(opts: { maxValueBytes?: number } | undefined): ReadLimits {
  return { maxValueBytes: opts?.maxValueBytes ?? DEFAULT_MAX_VALUE_BYTES };
}

/**
 * What all readers of one key (or one top-level item) share: the limits, the bytes decompressed
 * so far, and the key being read, named in error messages.
 */
export class ParseContext {
  decompressed = 0;
  key: Buffer | null = null;

  constructor(readonly limits: ReadLimits) {}

  /** Text appended to error messages: which key the problem is in. */
  where(): string {
    return this.key ? ` (in key ${printableBytes(this.key)})` : '';
  }
}

/** Where a reader's bytes sit in the input, so that errors report input offsets. */
export interface Origin {
  /** Input offset of buf[0]; for a decompressed blob, the offset of the compressed string. */
  base: number;
  /** Set for a blob inside a value (e.g. 'ziplist'): errors say which byte of it is wrong. */
  label?: string;
  /** The blob was decompressed, so its bytes have no offsets of their own in the input. */
  decompressed?: boolean;
}

const MAX_SAFE = Number.MAX_SAFE_INTEGER;

/**
 * Reads a Buffer front to back. Every read checks the bytes are there first; running out throws an
 * RdbError ('truncated'), or NeedMore when `partial` (more input may still come). Nothing here
 * allocates more than the bytes it was given.
 */
export class ByteReader {
  pos: number;

  constructor(
    readonly buf: Buffer,
    readonly ctx: ParseContext,
    readonly origin: Origin = { base: 0 },
    start = 0,
    readonly end = buf.length,
    /** More input may follow `end`: running out means "fetch more", not "truncated". */
    readonly partial = false,
  ) {
    this.pos = start;
  }

  /** Input offset of the next byte (for a decompressed blob: of the compressed string). */
  get offset(): number {
    return this.origin.decompressed ? this.origin.base : this.origin.base + this.pos;
  }

  get remaining(): number {
    return this.end - this.pos;
  }

  /** Throws an RdbError about the byte at `at` (default: the next one). */
  fail(reason: string, code: RdbErrorCode = 'corrupt', at = this.pos): never {
    const { base, label, decompressed } = this.origin;
    const offset = decompressed ? base : base + at;
    const inBlob = label ? `${label}${decompressed ? ' (decompressed)' : ''} byte ${at}: ` : '';
    throw new RdbError(offset, `${inBlob}${reason}${this.ctx.where()}`, code);
  }

  /** Makes sure `n` more bytes are there. */
  need(n: number, what: string): void {
    if (n <= this.end - this.pos) return;
    if (this.partial) throw new NeedMore(this.origin.base + this.pos + n, this.origin.base + this.pos, what);
    this.fail(`unexpected end of input reading ${what} (needs ${n} byte${n === 1 ? '' : 's'}, ${this.end - this.pos} left)`, 'truncated');
  }

  u8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.buf[this.pos++];
  }

  peekU8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.buf[this.pos];
  }

  /** `n` bytes, not copied: only for bytes decoded further before anything is returned. */
  view(n: number, what: string): Buffer {
    this.need(n, what);
    const b = this.buf.subarray(this.pos, this.pos + n);
    this.pos += n;
    return b;
  }

  /** `n` bytes, copied: returned values never keep the input buffer alive. */
  copy(n: number, what: string): Buffer {
    this.need(n, what);
    const b = Buffer.allocUnsafe(n);
    const src = this.buf;
    const p = this.pos;
    // Small copies (most elements) are faster as a loop than through the native copy.
    if (n <= 64) for (let k = 0; k < n; k++) b[k] = src[p + k];
    else src.copy(b, 0, p, p + n);
    this.pos += n;
    return b;
  }

  skip(n: number, what: string): void {
    this.need(n, what);
    this.pos += n;
  }

  i8(what: string): number {
    if (this.pos >= this.end) this.need(1, what);
    return this.buf.readInt8(this.pos++);
  }

  u16le(what: string): number {
    this.need(2, what);
    const v = this.buf.readUInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  i16le(what: string): number {
    this.need(2, what);
    const v = this.buf.readInt16LE(this.pos);
    this.pos += 2;
    return v;
  }

  i24le(what: string): number {
    this.need(3, what);
    const v = this.buf.readIntLE(this.pos, 3);
    this.pos += 3;
    return v;
  }

  u32le(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  i32le(what: string): number {
    this.need(4, what);
    const v = this.buf.readInt32LE(this.pos);
    this.pos += 4;
    return v;
  }

  u32be(what: string): number {
    this.need(4, what);
    const v = this.buf.readUInt32BE(this.pos);
    this.pos += 4;
    return v;
  }

  /** A signed 64-bit little-endian integer: a number when it is exact, else a bigint. */
  i64le(what: string): number | bigint {
    this.need(8, what);
    const v = this.buf.readBigInt64LE(this.pos);
    this.pos += 8;
    return v >= -MAX_SAFE_BIG && v <= MAX_SAFE_BIG ? Number(v) : v;
  }

  /** An unsigned 64-bit big-endian integer: a number when it is exact, else a bigint. */
  u64be(what: string): number | bigint {
    this.need(8, what);
    const hi = this.buf.readUInt32BE(this.pos);
    const lo = this.buf.readUInt32BE(this.pos + 4);
    this.pos += 8;
    return hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
  }

  f64le(what: string): number {
    this.need(8, what);
    const v = this.buf.readDoubleLE(this.pos);
    this.pos += 8;
    return v;
  }

  /** A millisecond Unix time (8 bytes, little-endian, signed): must be an exact number. */
  timeMs(what: string): number {
    const at = this.pos;
    const v = this.i64le(what);
    if (typeof v === 'bigint') this.fail(`${what} ${v} is out of range`, 'corrupt', at);
    return v;
  }
}

const MAX_SAFE_BIG = BigInt(MAX_SAFE);

/** Converts a 64-bit value to a number, or fails: for counts and sizes, which are never that big. */
export function safeNumber(r: ByteReader, v: number | bigint, what: string, at: number): number {
  if (typeof v === 'number' && v <= MAX_SAFE) return v;
  return r.fail(`${what} ${v} is out of range`, 'corrupt', at);
}
