import { RdbType } from '../../rdbTypes.js';
import type { ByteWriter } from '../byteWriter.js';
import { canonicalInt } from '../integers.js';
import { writeLength } from '../length.js';
import { encodeIntset } from '../intset.js';
import { encodeListpack } from '../listpack.js';
import { writeBlob, writeString } from '../string.js';
import { Limits, RdbVersion } from '../thresholds.js';

/**
 * Sets: an intset (type 11) when every member is an integer and there are at most 512; else from
 * RDB 11 (Redis 7.2) a listpack (20) when small; else a hashtable (2).
 */
export function writeSet(w: ByteWriter, members: readonly Buffer[], rdbVersion: number): void {
  const ints = members.length <= Limits.setIntsetEntries ? integers(members) : null;
  if (ints) {
    w.u8(RdbType.SET_INTSET);
    return writeBlob(w, encodeIntset(ints));
  }
  if (rdbVersion >= RdbVersion.SET_LISTPACK && members.length <= Limits.setListpackEntries && members.every((m) => m.length <= Limits.setListpackValue)) {
    w.u8(RdbType.SET_LISTPACK);
    return writeBlob(w, encodeListpack(members));
  }
  w.u8(RdbType.SET);
  writeLength(w, members.length);
  for (const m of members) writeString(w, m);
}

function integers(members: readonly Buffer[]): Array<number | bigint> | null {
  const out: Array<number | bigint> = [];
  for (const m of members) {
    const v = canonicalInt(m);
    if (v === null) return null;
    out.push(v);
  }
  return out;
}
