/**
 * The size a DUMP payload's value takes once the target has decoded it, as far as it can be told
 * without parsing the whole payload: exact for strings (an LZF-compressed string carries its
 * uncompressed length up front), the payload's own length for every other type.
 */
export function decodedSize(payload: Buffer): number {
  if (payload[0] !== 0 || payload.length < 2) return payload.length;
  const first = payload[1];
  const kind = first >> 6;
  if (kind === 3 && (first & 0x3f) === 3) {
    // LZF: <compressed length> <uncompressed length> <data>
    const compressed = readLength(payload, 2);
    if (!compressed) return payload.length;
    const plain = readLength(payload, compressed.next);
    return plain ? plain.value : payload.length;
  }
  return readLength(payload, 1)?.value ?? payload.length;
}

/** An RDB length (rdb.h: 6, 14, 32 or 64 bits); null for the special encodings (integers, LZF). */
function readLength(b: Buffer, at: number): { value: number; next: number } | null {
  if (at >= b.length) return null;
  const first = b[at];
  switch (first >> 6) {
    case 0:
      return { value: first & 0x3f, next: at + 1 };
    case 1:
      return at + 1 < b.length ? { value: ((first & 0x3f) << 8) | b[at + 1], next: at + 2 } : null;
    case 2:
      if (first === 0x80 && at + 5 <= b.length) return { value: b.readUInt32BE(at + 1), next: at + 5 };
      if (first === 0x81 && at + 9 <= b.length) return { value: Number(b.readBigUInt64BE(at + 1)), next: at + 9 };
      return null;
    default:
      return null;
  }
}
