/**
 * LZF, the compression Redis uses for RDB strings (lzf_d.c / lzf_c.c). The stream is a series of
 * instructions, each starting with a control byte `c`:
 *  - c < 32: a literal run of c + 1 bytes follows;
 *  - otherwise a back reference: length (c >> 5) + 2, with 7 meaning "add the next byte"; distance
 *    ((c & 31) << 8) + next byte + 1, so at most 8192 bytes back; the copy may overlap its output.
 *
 * Decoders report problems through `fail(position, reason)`, position being the byte in the
 * compressed input, so callers can turn it into an RdbError at the right file offset.
 */

export type LzfFail = (position: number, reason: string) => never;

/** The longest distance a back reference reaches. */
export const LZF_WINDOW = 8192;
/** The most output one instruction produces (a back reference of 7 + 255 + 2 bytes). */
const MAX_INSTRUCTION_OUTPUT = 264;

/**
 * The most bytes `compressedLength` bytes can decode to: every 3 input bytes give at most 264
 * output bytes. A larger claimed length is corrupt, and is refused before anything is allocated.
 */
export function lzfMaxOutput(compressedLength: number): number {
  return Math.ceil(compressedLength / 3) * MAX_INSTRUCTION_OUTPUT;
}

/** Decompresses `src`, which must produce exactly `outLength` bytes. */
export function lzfDecompress(src: Uint8Array, outLength: number, fail: LzfFail): Buffer {
  if (outLength > lzfMaxOutput(src.length)) fail(0, `uncompressed length ${outLength} is impossible for ${src.length} compressed bytes`);
  const out = Buffer.allocUnsafe(outLength);
  let ip = 0;
  let op = 0;
  while (ip < src.length) {
    const c = src[ip];
    if (c < 32) {
      const n = c + 1;
      if (ip + 1 + n > src.length) fail(ip, `literal run of ${n} bytes goes past the end of the compressed data`);
      if (op + n > outLength) fail(ip, `output would exceed the stated ${outLength} bytes`);
      for (let k = 0; k < n; k++) out[op + k] = src[ip + 1 + k];
      ip += 1 + n;
      op += n;
    } else {
      let len = c >> 5;
      let at = ip + 1;
      if (len === 7) {
        if (at >= src.length) fail(ip, 'back reference cut off');
        len += src[at++];
      }
      if (at >= src.length) fail(ip, 'back reference cut off');
      const distance = ((c & 31) << 8) + src[at++] + 1;
      len += 2;
      if (distance > op) fail(ip, `back reference ${distance} bytes back, but only ${op} bytes have been produced`);
      if (op + len > outLength) fail(ip, `output would exceed the stated ${outLength} bytes`);
      // Byte by byte: a reference may overlap the bytes it produces (a repeated pattern).
      for (let k = 0, from = op - distance; k < len; k++) out[op + k] = out[from + k];
      ip = at;
      op += len;
    }
  }
  if (op !== outLength) fail(src.length, `compressed data ends after ${op} of the stated ${outLength} bytes`);
  return out;
}

/**
 * An LZF decoder fed in pieces that emits the output in pieces of exactly `pieceBytes` (the last
 * one may be shorter), keeping only the 8 KB window back references need besides the piece being
 * filled: a huge compressed string never has to be held whole.
 */
export class LzfStreamDecoder {
  private readonly out: Buffer;
  /** `out` holds recent output up to `op`: the window, then the bytes not emitted yet (from pieceStart). */
  private op = 0;
  private pieceStart = 0;
  private produced = 0;
  private consumed = 0;
  /** An instruction cut by the end of the previous input piece. */
  private carry: Buffer | null = null;

  constructor(
    private readonly outLength: number,
    compressedLength: number,
    private readonly pieceBytes: number,
    private readonly fail: LzfFail,
  ) {
    if (!(pieceBytes >= 1)) throw new RangeError('LzfStreamDecoder: pieceBytes must be at least 1');
    if (outLength > lzfMaxOutput(compressedLength)) fail(0, `uncompressed length ${outLength} is impossible for ${compressedLength} compressed bytes`);
    this.out = Buffer.allocUnsafe(Math.min(LZF_WINDOW + pieceBytes + MAX_INSTRUCTION_OUTPUT, outLength));
  }

  /** Feeds the next compressed bytes; returns the output pieces completed so far. */
  push(input: Buffer): Buffer[] {
    const pieces: Buffer[] = [];
    let src = input;
    let srcBase = this.consumed;
    if (this.carry) {
      src = Buffer.concat([this.carry, input]);
      srcBase -= this.carry.length;
      this.carry = null;
    }
    const out = this.out;
    let ip = 0;
    while (ip < src.length) {
      const c = src[ip];
      // Instruction size: control byte, then literals or 1 or 2 more bytes of a back reference.
      let n: number;
      let size: number;
      if (c < 32) {
        n = c + 1;
        size = 1 + n;
        if (ip + size > src.length) break;
      } else {
        n = (c >> 5) + 2;
        size = n === 9 ? 3 : 2;
        if (ip + size > src.length) break;
        if (size === 3) n += src[ip + 1];
      }
      if (this.produced + n > this.outLength) this.fail(srcBase + ip, `output would exceed the stated ${this.outLength} bytes`);
      if (this.op + n > out.length) this.slide();
      if (c < 32) {
        src.copy(out, this.op, ip + 1, ip + size);
      } else {
        const distance = ((c & 31) << 8) + src[ip + size - 1] + 1;
        if (distance > this.op) this.fail(srcBase + ip, `back reference ${distance} bytes back, but only ${this.produced} bytes have been produced`);
        for (let k = 0, from = this.op - distance; k < n; k++) out[this.op + k] = out[from + k];
      }
      ip += size;
      this.op += n;
      this.produced += n;
      while (this.op - this.pieceStart >= this.pieceBytes) {
        pieces.push(Buffer.from(out.subarray(this.pieceStart, this.pieceStart + this.pieceBytes)));
        this.pieceStart += this.pieceBytes;
      }
    }
    if (ip < src.length) this.carry = Buffer.from(src.subarray(ip));
    this.consumed += input.length;
    return pieces;
  }

  /** The input is complete: checks it decoded to exactly the stated length; returns the last piece, if any. */
  end(): Buffer[] {
    if (this.carry) this.fail(this.consumed - this.carry.length, 'compressed data ends inside an instruction');
    if (this.produced !== this.outLength) this.fail(this.consumed, `compressed data ends after ${this.produced} of the stated ${this.outLength} bytes`);
    return this.op > this.pieceStart ? [Buffer.from(this.out.subarray(this.pieceStart, this.op))] : [];
  }

  /** Moves what must stay (the window and the unemitted bytes) to the front of the buffer. */
  private slide(): void {
    const from = Math.min(this.pieceStart, Math.max(0, this.op - LZF_WINDOW));
    this.out.copyWithin(0, from, this.op);
    this.op -= from;
    this.pieceStart -= from;
  }
}

/**
 * A plain LZF compressor (hash of 3 bytes, greedy matches). Not byte-identical to Redis's output,
 * but any LZF decoder reads it; used by tests and, later, by the RDB writer.
 */
export function lzfCompress(src: Uint8Array): Buffer {
  const out: number[] = [];
  const table = new Int32Array(1 << 14).fill(-1);
  let lit: number[] = [];
  const flushLiterals = (): void => {
    for (let i = 0; i < lit.length; i += 32) {
      const run = lit.slice(i, i + 32);
      out.push(run.length - 1, ...run);
    }
    lit = [];
  };
  let i = 0;
  while (i < src.length) {
    if (i + 2 < src.length) {
      const h = Math.imul((src[i] << 16) | (src[i + 1] << 8) | src[i + 2], 0x9e3779b1) >>> 18;
      const ref = table[h];
      table[h] = i;
      const distance = i - ref;
      if (ref >= 0 && distance <= LZF_WINDOW && src[ref] === src[i] && src[ref + 1] === src[i + 1] && src[ref + 2] === src[i + 2]) {
        let len = 3;
        while (len < MAX_INSTRUCTION_OUTPUT && i + len < src.length && src[ref + len] === src[i + len]) len++;
        flushLiterals();
        const code = len - 2;
        const d = distance - 1;
        if (code < 7) out.push((code << 5) | (d >> 8), d & 0xff);
        else out.push((7 << 5) | (d >> 8), code - 7, d & 0xff);
        i += len;
        continue;
      }
    }
    lit.push(src[i++]);
  }
  flushLiterals();
  return Buffer.from(out);
}
