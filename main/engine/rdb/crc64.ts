/**
 * CRC-64 as Redis computes it (crc64.c: Jones polynomial 0xad93d23594c935a9, reflected, initial
 * value 0, no final xor). Used for the RDB file trailer and the DUMP payload footer.
 *
 * JavaScript has no fast 64-bit integers, so the register is kept as two 32-bit halves and the
 * table is split the same way; slicing by 8 keeps whole-file checks cheap.
 */

const POLY_REFLECTED = 0x95ac9329ac4bc9b5n;

const TABLES = 8;
const LO = new Uint32Array(256 * TABLES);
const HI = new Uint32Array(256 * TABLES);

(function buildTables(): void {
  for (let n = 0; n < 256; n++) {
    let c = BigInt(n);
    for (let k = 0; k < 8; k++) c = c & 1n ? (c >> 1n) ^ POLY_REFLECTED : c >> 1n;
    LO[n] = Number(c & 0xffffffffn);
    HI[n] = Number(c >> 32n);
  }
  // Table t advances a byte followed by t zero bytes.
  for (let t = 1; t < TABLES; t++) {
    for (let n = 0; n < 256; n++) {
      const plo = LO[(t - 1) * 256 + n];
      const phi = HI[(t - 1) * 256 + n];
      const idx = plo & 0xff;
      LO[t * 256 + n] = ((plo >>> 8) | (phi << 24)) ^ LO[idx];
      HI[t * 256 + n] = (phi >>> 8) ^ HI[idx];
    }
  }
})();

/** An incremental CRC-64 (feed bytes with update, read `value`). */
export class Crc64 {
  private lo = 0;
  private hi = 0;

  update(data: Uint8Array): this {
    let lo = this.lo;
    let hi = this.hi;
    let i = 0;
    const n = data.length;
    const fast = n - (n % 8);
    for (; i < fast; i += 8) {
      const a = lo ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24));
      const b = hi ^ (data[i + 4] | (data[i + 5] << 8) | (data[i + 6] << 16) | (data[i + 7] << 24));
      const i7 = 7 * 256 + (a & 0xff);
      const i6 = 6 * 256 + ((a >>> 8) & 0xff);
      const i5 = 5 * 256 + ((a >>> 16) & 0xff);
      const i4 = 4 * 256 + (a >>> 24);
      const i3 = 3 * 256 + (b & 0xff);
      const i2 = 2 * 256 + ((b >>> 8) & 0xff);
      const i1 = 256 + ((b >>> 16) & 0xff);
      const i0 = b >>> 24;
      lo = LO[i7] ^ LO[i6] ^ LO[i5] ^ LO[i4] ^ LO[i3] ^ LO[i2] ^ LO[i1] ^ LO[i0];
      hi = HI[i7] ^ HI[i6] ^ HI[i5] ^ HI[i4] ^ HI[i3] ^ HI[i2] ^ HI[i1] ^ HI[i0];
    }
    for (; i < n; i++) {
      const idx = (lo ^ data[i]) & 0xff;
      lo = ((lo >>> 8) | (hi << 24)) ^ LO[idx];
      hi = (hi >>> 8) ^ HI[idx];
    }
    this.lo = lo >>> 0;
    this.hi = hi >>> 0;
    return this;
  }

  get value(): bigint {
    return (BigInt(this.hi) << 32n) | BigInt(this.lo);
  }

  /** True when `stored` (8 bytes, little-endian, as Redis writes it) equals the CRC so far. */
  matches(stored: Uint8Array): boolean {
    const lo = (stored[0] | (stored[1] << 8) | (stored[2] << 16) | (stored[3] << 24)) >>> 0;
    const hi = (stored[4] | (stored[5] << 8) | (stored[6] << 16) | (stored[7] << 24)) >>> 0;
    return lo === this.lo && hi === this.hi;
  }
}

/** CRC-64 (Redis flavour) of `data`. */
export function crc64(data: Uint8Array): bigint {
  return new Crc64().update(data).value;
}
