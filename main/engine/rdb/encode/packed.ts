import { canonicalInt } from './integers.js';

/**
 * An element for a ziplist or listpack: bytes, or an integer (number, or bigint beyond 2^53).
 * Byte strings that spell an integer are stored as that integer, as Redis does on insert.
 */
export type PackedInput = Buffer | number | bigint;

/** The form an element is stored in: an integer when it is or spells one, else its bytes. */
export function classify(item: PackedInput): PackedInput {
  if (typeof item !== 'object') return item;
  return item.length <= 20 ? (canonicalInt(item) ?? item) : item;
}

/** Writes a signed integer of `bytes` bytes, little-endian, at `at`; returns the next offset. */
export function writeIntLE(out: Buffer, at: number, v: number | bigint, bytes: number): number {
  if (bytes === 8) return out.writeBigInt64LE(BigInt(v), at);
  return out.writeIntLE(Number(v), at, bytes);
}
