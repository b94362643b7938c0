/** A growable output buffer: appends little- and big-endian numbers and bytes, doubling as needed. */
export class ByteWriter {
  private buf: Buffer;
  pos = 0;

  constructor(capacity = 256) {
    this.buf = Buffer.allocUnsafe(Math.max(16, capacity));
  }

  /** Makes room for `n` more bytes. */
  reserve(n: number): void {
    const need = this.pos + n;
    if (need <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < need) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.pos);
    this.buf = next;
  }

  u8(v: number): void {
    this.reserve(1);
    this.buf[this.pos++] = v;
  }

  u16le(v: number): void {
    this.reserve(2);
    this.pos = this.buf.writeUInt16LE(v, this.pos);
  }

  u32be(v: number): void {
    this.reserve(4);
    this.pos = this.buf.writeUInt32BE(v, this.pos);
  }

  /** Unsigned 64-bit big-endian (stream IDs, long lengths). */
  u64be(v: number | bigint): void {
    this.reserve(8);
    this.pos = this.buf.writeBigUInt64BE(BigInt(v), this.pos);
  }

  /** Signed 64-bit little-endian (millisecond times). */
  i64le(v: number | bigint): void {
    this.reserve(8);
    this.pos = this.buf.writeBigInt64LE(BigInt(v), this.pos);
  }

  u64le(v: bigint): void {
    this.reserve(8);
    this.pos = this.buf.writeBigUInt64LE(v, this.pos);
  }

  f64le(v: number): void {
    this.reserve(8);
    this.pos = this.buf.writeDoubleLE(v, this.pos);
  }

  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.pos);
    this.pos += b.length;
  }

  /** The bytes written so far: a view, valid until the next write. */
  result(): Buffer {
    return this.buf.subarray(0, this.pos);
  }

  /** The bytes written so far, copied out when the buffer is mostly spare room (it may be kept long). */
  finish(): Buffer {
    const spare = this.buf.length - this.pos;
    return spare > 4096 && spare > this.pos ? Buffer.from(this.result()) : this.result();
  }
}
