import { parseStreamId, type StreamGroup, type StreamValue } from '../../../values/logicalValue.js';
import { RdbType, type ParsedStreamGroup } from '../../rdbTypes.js';
import type { ByteWriter } from '../byteWriter.js';
import { RdbEncodeError } from '../encodeError.js';
import { writeLength } from '../length.js';
import { ListpackBuilder } from '../listpack.js';
import { writeBlob, writeString } from '../string.js';
import { Limits, RdbVersion } from '../thresholds.js';
import { derivedFirstId, estimateEntriesRead, type StreamCounters } from './streamMeta.js';

/**
 * Streams: type 15 (RDB 9), 19 (10: + first ID, max deleted ID, entries added, group entries
 * read), 21 (11+: + consumer active time). Entries go in nodes as Redis's XADD fills them: a
 * 16-byte master ID (the node's first entry) and a listpack holding the master entry (count,
 * deleted, master fields, 0), then per entry flags, ms and seq deltas, values (or a field count
 * and pairs when the fields differ from the master's) and lp-count.
 */

/** A group as LogicalValue or the parser has it (the parser adds the times). */
export type EncodableGroup = StreamGroup & Partial<Pick<ParsedStreamGroup, 'deliveryTimesMs' | 'consumerTimes'>>;
export type EncodableStream = Omit<StreamValue, 'groups'> & { firstId?: string; groups: EncodableGroup[] };

const FLAG_SAMEFIELDS = 2;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

export function writeStream(w: ByteWriter, s: EncodableStream, rdbVersion: number, nowMs: number): void {
  if (s.length !== s.entries.length) throw new RdbEncodeError(`stream length ${s.length} but it holds ${s.entries.length} entries`);
  const v2 = rdbVersion >= RdbVersion.LISTPACK;
  const v3 = rdbVersion >= RdbVersion.SET_LISTPACK;
  w.u8(v3 ? RdbType.STREAM_LISTPACKS_3 : v2 ? RdbType.STREAM_LISTPACKS_2 : RdbType.STREAM_LISTPACKS);
  writeNodes(w, s.entries);
  writeLength(w, s.length);
  writeId(w, s.lastId);
  const counters: StreamCounters = {
    length: s.length,
    lastId: s.lastId,
    firstId: s.firstId ?? derivedFirstId(s.entries),
    maxDeletedId: s.maxDeletedId ?? '0-0',
    entriesAdded: s.entriesAdded ?? s.length,
  };
  if (v2) {
    writeId(w, counters.firstId);
    writeId(w, counters.maxDeletedId);
    writeLength(w, counters.entriesAdded);
  }
  writeLength(w, s.groups.length);
  for (const g of s.groups) writeGroup(w, g, counters, v2, v3, nowMs);
}

interface Node {
  master: [bigint, bigint];
  fields: Buffer[];
  lp: ListpackBuilder;
  count: number;
}

function writeNodes(w: ByteWriter, entries: StreamValue['entries']): void {
  const nodes: Node[] = [];
  let node: Node | null = null;
  for (const [id, fv] of entries) {
    const [ms, seq] = parseStreamId(id);
    if (fv.length % 2 !== 0) throw new RdbEncodeError(`stream entry ${id} has an odd number of fields and values`);
    let bytes = 0;
    for (const b of fv) bytes += b.length;
    // streamAppendItem starts a node when this one is full (by bytes with the new entry, or entries).
    if (node && (node.lp.bytes + bytes >= Limits.streamNodeBytes || node.count >= Limits.streamNodeEntries || !fitsDelta(node, ms, seq))) node = null;
    if (!node) {
      node = startNode(ms, seq, fv);
      nodes.push(node);
    }
    appendEntry(node, ms, seq, fv);
  }
  writeLength(w, nodes.length);
  const key = Buffer.alloc(16);
  for (const n of nodes) {
    n.lp.setInt(0, n.count);
    key.writeBigUInt64BE(n.master[0], 0);
    key.writeBigUInt64BE(n.master[1], 8);
    writeBlob(w, key);
    writeBlob(w, n.lp.finish());
  }
}

function startNode(ms: bigint, seq: bigint, fv: Buffer[]): Node {
  const lp = new ListpackBuilder();
  const fields: Buffer[] = [];
  for (let i = 0; i < fv.length; i += 2) fields.push(fv[i]);
  lp.push(0); // live entries, set when the node is done
  lp.push(0); // deleted entries
  lp.push(fields.length);
  for (const f of fields) lp.push(f);
  lp.push(0);
  return { master: [ms, seq], fields, lp, count: 0 };
}

function appendEntry(node: Node, ms: bigint, seq: bigint, fv: Buffer[]): void {
  const { lp, fields } = node;
  const n = fv.length / 2;
  let same = n === fields.length;
  for (let i = 0; same && i < n; i++) same = fv[2 * i].equals(fields[i]);
  lp.push(same ? FLAG_SAMEFIELDS : 0);
  lp.push(narrow(ms - node.master[0]));
  lp.push(narrow(seq - node.master[1]));
  if (same) {
    for (let i = 1; i < fv.length; i += 2) lp.push(fv[i]);
    lp.push(n + 3);
  } else {
    lp.push(n);
    for (const b of fv) lp.push(b);
    lp.push(2 * n + 4);
  }
  node.count++;
}

/** Deltas are signed 64-bit: an ID too far from the master's starts a node of its own. */
function fitsDelta(node: Node, ms: bigint, seq: bigint): boolean {
  const dm = ms - node.master[0];
  const ds = seq - node.master[1];
  return dm >= I64_MIN && dm <= I64_MAX && ds >= I64_MIN && ds <= I64_MAX;
}

function narrow(v: bigint): number | bigint {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v;
}

function writeGroup(w: ByteWriter, g: EncodableGroup, counters: StreamCounters, v2: boolean, v3: boolean, nowMs: number): void {
  writeString(w, g.name);
  writeId(w, g.lastDeliveredId);
  if (v2) {
    const read = g.entriesRead === undefined ? estimateEntriesRead(counters, g.lastDeliveredId) : g.entriesRead;
    writeLength(w, read === null ? U64_MAX : read);
  }
  writeLength(w, g.pending.length);
  const owned = new Map<string, string[]>();
  for (const c of g.consumers) owned.set(c.toString('latin1'), []);
  for (let i = 0; i < g.pending.length; i++) {
    const [id, owner, count] = g.pending[i];
    const mine = owned.get(owner.toString('latin1'));
    if (!mine) throw new RdbEncodeError(`stream group ${g.name.toString()}: pending entry ${id} is owned by a consumer the group does not list`);
    mine.push(id);
    writeRawId(w, id);
    w.i64le(g.deliveryTimesMs?.[i] ?? nowMs);
    writeLength(w, count);
  }
  writeLength(w, g.consumers.length);
  for (let i = 0; i < g.consumers.length; i++) {
    const name = g.consumers[i];
    const times = g.consumerTimes?.[i];
    const seen = times?.seenTimeMs ?? nowMs;
    writeString(w, name);
    w.i64le(seen);
    if (v3) w.i64le(times?.activeTimeMs ?? seen);
    const ids = owned.get(name.toString('latin1'))!;
    writeLength(w, ids.length);
    for (const id of ids) writeRawId(w, id);
  }
}

/** An ID as two lengths. */
function writeId(w: ByteWriter, id: string): void {
  const [ms, seq] = parseStreamId(id);
  writeLength(w, narrow(ms));
  writeLength(w, narrow(seq));
}

/** An ID as 16 raw bytes (PELs): ms and seq, u64 big-endian. */
function writeRawId(w: ByteWriter, id: string): void {
  const [ms, seq] = parseStreamId(id);
  w.u64be(ms);
  w.u64be(seq);
}
