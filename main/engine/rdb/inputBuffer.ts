import { ByteReader, ParseContext } from './byteReader.js';
import { Crc64 } from './crc64.js';
import { RdbError } from './rdbErrors.js';

const EMPTY = Buffer.alloc(0);

/**
 * The unconsumed part of a chunked input. Holds only the bytes of the record being parsed (and
 * whatever the last chunk brought beyond it); consumed bytes are dropped as soon as more arrive.
 * Every consumed byte goes through the CRC-64, so the file's checksum costs no second pass.
 */
export class InputBuffer {
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Input offset of buf[0]. */
  private base = 0;
  private done = false;
  readonly crc = new Crc64();

  constructor(private readonly source: AsyncIterator<unknown>) {}

  /** Input offset of the next unconsumed byte. */
  get offset(): number {
    return this.base + this.pos;
  }

  get available(): number {
    return this.buf.length - this.pos;
  }

  /** True once the source has no more chunks. */
  get ended(): boolean {
    return this.done;
  }

  /** A reader over the unconsumed bytes; `partial` until the source has ended. */
  reader(ctx: ParseContext): ByteReader {
    return new ByteReader(this.buf, ctx, { base: this.base }, this.pos, this.buf.length, !this.done);
  }

  /** Marks `n` bytes as consumed (after parsing them from `reader()`). */
  consume(n: number): void {
    this.crc.update(this.buf.subarray(this.pos, this.pos + n));
    this.pos += n;
  }

  /** Gets more chunks until at least `min` bytes are unconsumed, or the source ends. */
  async fill(min: number): Promise<void> {
    if (this.available >= min || this.done) return;
    const parts: Buffer[] = [this.buf.subarray(this.pos)];
    let have = this.available;
    while (have < min) {
      const chunk = await this.next();
      if (!chunk) break;
      parts.push(chunk);
      have += chunk.length;
    }
    this.base += this.pos;
    this.buf = parts.length === 1 ? parts[0] : Buffer.concat(parts, have);
    this.pos = 0;
  }

  /**
   * Consumes the next `n` bytes and hands them out in pieces of at most `maxPiece` bytes, without
   * ever holding more than one source chunk: for huge strings.
   */
  async *pipe(n: number, maxPiece: number, what: string): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.available === 0) {
        const chunk = await this.next();
        if (!chunk) throw new RdbError(this.offset, `unexpected end of input reading ${what} (${left} of ${n} bytes missing)`, 'truncated');
        this.base += this.buf.length;
        this.buf = chunk;
        this.pos = 0;
      }
      const take = Math.min(left, this.available, maxPiece);
      const piece = this.buf.subarray(this.pos, this.pos + take);
      this.consume(take);
      left -= take;
      yield piece;
    }
  }

  /** What is left unconsumed in the buffer (for callers that read on after the RDB data). */
  rest(): Buffer {
    return Buffer.from(this.buf.subarray(this.pos));
  }

  private async next(): Promise<Buffer | null> {
    while (!this.done) {
      const r = await this.source.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const chunk = r.value;
      if (typeof chunk === 'string') throw new TypeError('readRdb: the input gave a string chunk; read the file as bytes (no encoding)');
      if (!(chunk instanceof Uint8Array)) throw new TypeError(`readRdb: the input gave a ${typeof chunk} chunk, expected Buffer`);
      if (chunk.length === 0) continue;
      return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length);
    }
    return null;
  }
}
