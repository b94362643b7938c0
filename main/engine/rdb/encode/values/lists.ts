import { RdbType } from '../../rdbTypes.js';
import type { ByteWriter } from '../byteWriter.js';
import { writeLength } from '../length.js';
import { ListpackBuilder } from '../listpack.js';
import { writeBlob, writeString } from '../string.js';
import { Limits, RdbVersion } from '../thresholds.js';
import { ZiplistBuilder } from '../ziplist.js';

/**
 * Lists: before RDB 7 a ziplist (type 10) when small, else a linked list (1); RDB 7-9 a quicklist
 * of ziplists (14); RDB 10+ a quicklist of listpacks (18). Nodes are filled as RPUSH fills them
 * with list-max-*-size -2 (8 KB); from RDB 12 (Redis 7.4) an element over 8 KB gets a plain node.
 */

const CONTAINER_PLAIN = 1;
const CONTAINER_PACKED = 2;
/** Redis 7.0-7.2 keep elements below 1 GB in packed nodes. */
const PACKED_THRESHOLD = 1 << 30;
/** quicklist.c SIZE_ESTIMATE_OVERHEAD: what 7.0+ assumes an element adds besides its bytes. */
const LISTPACK_OVERHEAD = 8;

export function writeList(w: ByteWriter, items: readonly Buffer[], rdbVersion: number): void {
  if (rdbVersion < RdbVersion.QUICKLIST) return writeOldList(w, items);
  if (rdbVersion < RdbVersion.LISTPACK) return writeQuicklist(w, items);
  writeQuicklist2(w, items, rdbVersion >= RdbVersion.FIELD_TTL ? Limits.quicklistNodeBytes : PACKED_THRESHOLD - 1);
}

function writeOldList(w: ByteWriter, items: readonly Buffer[]): void {
  if (items.length <= Limits.listZiplistEntries && items.every((b) => b.length <= Limits.listZiplistValue)) {
    w.u8(RdbType.LIST_ZIPLIST);
    const zl = new ZiplistBuilder();
    for (const b of items) zl.push(b);
    return writeBlob(w, zl.finish());
  }
  w.u8(RdbType.LIST);
  writeLength(w, items.length);
  for (const b of items) writeString(w, b);
}

function writeQuicklist(w: ByteWriter, items: readonly Buffer[]): void {
  w.u8(RdbType.LIST_QUICKLIST);
  const nodes: ZiplistBuilder[] = [];
  let node: ZiplistBuilder | null = null;
  for (const b of items) {
    // 3.2-6.2 _quicklistNodeAllowInsert: estimated ziplist growth must keep the node within 8 KB.
    const sz = b.length;
    const overhead = (sz < 254 ? 1 : 5) + (sz < 64 ? 1 : sz < 16384 ? 2 : 5);
    if (!node || node.bytes + sz + overhead > Limits.quicklistNodeBytes) {
      node = new ZiplistBuilder();
      nodes.push(node);
    }
    node.push(b);
  }
  writeLength(w, nodes.length);
  for (const n of nodes) writeBlob(w, n.finish());
}

type QuicklistNode = { plain: Buffer } | { packed: ListpackBuilder };

function writeQuicklist2(w: ByteWriter, items: readonly Buffer[], largestPacked: number): void {
  w.u8(RdbType.LIST_QUICKLIST_2);
  const nodes: QuicklistNode[] = [];
  let packed: ListpackBuilder | null = null;
  for (const b of items) {
    if (b.length > largestPacked) {
      nodes.push({ plain: b });
      packed = null;
      continue;
    }
    if (!packed || packed.bytes + b.length + LISTPACK_OVERHEAD > Limits.quicklistNodeBytes) {
      packed = new ListpackBuilder();
      nodes.push({ packed });
    }
    packed.push(b);
  }
  writeLength(w, nodes.length);
  for (const n of nodes) {
    if ('plain' in n) {
      writeLength(w, CONTAINER_PLAIN);
      writeString(w, n.plain);
    } else {
      writeLength(w, CONTAINER_PACKED);
      writeBlob(w, n.packed.finish());
    }
  }
}
