import type { ByteReader } from '../byteReader.js';

/**
 * Zset scores. Old zsets (type 3) store them as text: one length byte, where 253 = NaN, 254 = +inf
 * and 255 = -inf, else that many ASCII bytes; later ones (type 5) as 8-byte little-endian doubles;
 * ziplists and listpacks hold them as text (e.g. "3.5", "inf") or as integers.
 */

export function readTextDouble(r: ByteReader, what: string): number {
  const at = r.pos;
  const len = r.u8(what);
  if (len === 253) return r.fail(`${what} is NaN`, 'corrupt', at);
  if (len === 254) return Infinity;
  if (len === 255) return -Infinity;
  return parseScore(r, r.view(len, what), what, at);
}

export function readBinaryDouble(r: ByteReader, what: string): number {
  const at = r.pos;
  const v = r.f64le(what);
  if (Number.isNaN(v)) r.fail(`${what} is NaN`, 'corrupt', at);
  return v;
}

const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const INFINITY = /^([+-]?)inf(inity)?$/i;

/** Parses score text as strtod would; fails on anything that is not a number (or is NaN). */
export function parseScore(r: ByteReader, text: Buffer, what: string, at: number): number {
  const s = text.toString('latin1');
  if (DECIMAL.test(s)) return Number(s);
  const inf = INFINITY.exec(s);
  if (inf) return inf[1] === '-' ? -Infinity : Infinity;
  return r.fail(`${what} ${JSON.stringify(s.slice(0, 40))} is not a number`, 'corrupt', at);
}
