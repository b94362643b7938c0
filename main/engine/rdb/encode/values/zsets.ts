import { RdbType } from '../../rdbTypes.js';
import type { ByteWriter } from '../byteWriter.js';
import { scoreItem, writeBinaryDouble, writeTextDouble } from '../doubles.js';
import { writeLength } from '../length.js';
import { ListpackBuilder } from '../listpack.js';
import { writeBlob, writeString } from '../string.js';
import { Limits, RdbVersion } from '../thresholds.js';
import { ZiplistBuilder } from '../ziplist.js';

/**
 * Zsets: small ones as member, score pairs in rank order in a ziplist (type 12) or, from RDB 10, a
 * listpack (17); others as a skiplist with text scores (3) or, from RDB 8, binary ones (5), written
 * from the highest rank down as Redis does (each load then inserts at the head).
 */
export function writeZset(w: ByteWriter, members: ReadonlyArray<readonly [Buffer, number]>, rdbVersion: number): void {
  const ranked = inRankOrder(members);
  if (ranked.length <= Limits.zsetPackedEntries && ranked.every(([m]) => m.length <= Limits.zsetPackedValue)) {
    const listpack = rdbVersion >= RdbVersion.LISTPACK;
    w.u8(listpack ? RdbType.ZSET_LISTPACK : RdbType.ZSET_ZIPLIST);
    const packed = listpack ? new ListpackBuilder() : new ZiplistBuilder();
    for (const [m, score] of ranked) {
      packed.push(m);
      packed.push(scoreItem(score));
    }
    return writeBlob(w, packed.finish());
  }
  const binary = rdbVersion >= RdbVersion.ZSET_BINARY;
  w.u8(binary ? RdbType.ZSET_2 : RdbType.ZSET);
  writeLength(w, ranked.length);
  for (let i = ranked.length - 1; i >= 0; i--) {
    writeString(w, ranked[i][0]);
    if (binary) writeBinaryDouble(w, ranked[i][1]);
    else writeTextDouble(w, ranked[i][1]);
  }
}

/** Members as given when already in rank order (the LogicalValue contract), else a sorted copy. */
function inRankOrder(members: ReadonlyArray<readonly [Buffer, number]>): ReadonlyArray<readonly [Buffer, number]> {
  for (let i = 1; i < members.length; i++) {
    if (compareRank(members[i - 1], members[i]) > 0) return members.slice().sort(compareRank);
  }
  return members;
}

function compareRank(a: readonly [Buffer, number], b: readonly [Buffer, number]): number {
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : Buffer.compare(a[0], b[0]);
}
