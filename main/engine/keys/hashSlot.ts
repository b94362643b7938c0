/** Redis Cluster key slots: CRC16 (XMODEM) of the key, or of its `{hash tag}`, modulo 16384. */

const TABLE = new Uint16Array(256);
for (let i = 0; i < 256; i++) {
  let crc = i << 8;
  for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  TABLE[i] = crc;
}

export const SLOTS = 16384;

export function crc16(bytes: Uint8Array, from = 0, to = bytes.length, start = 0): number {
  let crc = start;
  for (let i = from; i < to; i++) crc = ((crc << 8) & 0xffff) ^ TABLE[((crc >> 8) ^ bytes[i]) & 0xff];
  return crc;
}

/** The part of the key that decides its slot: the first non-empty `{…}`, else the whole key. */
function hashedRange(key: Uint8Array): [number, number] {
  const open = key.indexOf(0x7b);
  if (open >= 0) {
    const close = key.indexOf(0x7d, open + 1);
    if (close > open + 1) return [open + 1, close];
  }
  return [0, key.length];
}

export function keySlot(key: Uint8Array): number {
  const [from, to] = hashedRange(key);
  return crc16(key, from, to) & (SLOTS - 1);
}

/**
 * A name for a temporary key that lives in the same slot as `key`, so it can be RENAMEd onto it in
 * a cluster: `key` + `tag` + a counter, the counter searched until the CRC16 slot matches.
 */
export function sameSlotName(key: Buffer, tag: string): Buffer {
  const slot = keySlot(key);
  const stem = Buffer.concat([key, Buffer.from(tag)]);
  const [from, to] = hashedRange(stem);
  if (to < stem.length) return stem; // the key's own hash tag fixes the slot whatever follows it
  const prefixCrc = crc16(stem, from, to);
  for (let n = 0; ; n++) {
    const suffix = Buffer.from(n.toString(36));
    if ((crc16(suffix, 0, suffix.length, prefixCrc) & (SLOTS - 1)) !== slot) continue;
    const candidate = Buffer.concat([stem, suffix]);
    if (keySlot(candidate) === slot) return candidate;
    if (n > 1_000_000) throw new Error('no same-slot name found');
  }
}
