import { compareStreamIds, printableBytes } from '../../values/logicalValue.js';
import type { ByteReader } from '../byteReader.js';
import { decodeListpack } from '../encodings/listpack.js';
import { itemBytes, type PackedItem } from '../encodings/packed.js';
import { readLength, readLengthBig } from '../encodings/rdbLength.js';
import { readBlob, readString } from '../encodings/rdbString.js';
import { RdbType, type ParsedStream, type ParsedStreamGroup, type ParsedValue } from '../rdbTypes.js';

/**
 * Streams (types 15, 19, 21; rdb.c and t_stream.c).
 *
 * Entries: a count of nodes, each a 16-byte master ID (ms, seq: u64 big-endian) and a listpack:
 *   master entry: count, deleted, number of master fields, the fields, 0;
 *   then per entry: flags (1 deleted, 2 same fields as the master), ms delta, seq delta (both from
 *   the master ID), then either the values of the master fields or a field count and field/value
 *   pairs, then lp-count (the entry's element count, for walking backwards).
 * Then: length, last ID (2 lengths); types 19+: first ID, max deleted ID, entries added; groups:
 *   name, last delivered ID, (19+) entries read (2^64-1 = unknown), PEL (16-byte ID, delivery time
 *   u64 LE ms, delivery count), consumers: name, seen time, (21) active time, their PEL (16-byte IDs).
 */

const FLAG_DELETED = 1;
const FLAG_SAMEFIELDS = 2;
const U64_MAX = (1n << 64n) - 1n;

type U64 = number | bigint;

export function readStream(r: ByteReader, type: number): ParsedValue {
  const entries: Array<[string, Buffer[]]> = [];
  const nodes = readLength(r, 'stream node count');
  let prevId: [U64, U64] | null = null;
  for (let n = 0; n < nodes; n++) {
    const keyAt = r.pos;
    const nodeKey = readString(r, 'stream node key');
    if (nodeKey.length !== 16) r.fail(`stream node key is ${nodeKey.length} bytes, not 16`, 'corrupt', keyAt);
    const master: [U64, U64] = [u64be(nodeKey, 0), u64be(nodeKey, 8)];
    const blob = readBlob(r, 'stream listpack');
    const items = decodeListpack(blob);
    if (items.length === 0) blob.fail('empty listpack in a stream', 'corrupt', 0);
    prevId = readNode(blob, items, master, entries, prevId);
  }

  const lengthAt = r.pos;
  const length = readLength(r, 'stream length');
  if (length !== entries.length) r.fail(`stream length ${length} but the listpacks hold ${entries.length} entries`, 'corrupt', lengthAt);
  const lastId = readId(r, 'stream last ID');
  const stream: ParsedStream = { entries, lastId, length, groups: [] };
  const v2 = type >= RdbType.STREAM_LISTPACKS_2;
  if (v2) {
    stream.firstId = readId(r, 'stream first ID');
    stream.maxDeletedId = readId(r, 'stream max deleted ID');
    stream.entriesAdded = readLength(r, 'stream entries added');
  }
  if (entries.length > 0 && compareStreamIds(entries[entries.length - 1][0], lastId) > 0) {
    r.fail(`stream last ID ${lastId} is below its last entry ${entries[entries.length - 1][0]}`, 'corrupt', lengthAt);
  }

  const groupCount = readLength(r, 'stream group count');
  for (let g = 0; g < groupCount; g++) stream.groups.push(readGroup(r, type));
  stream.groups.sort((a, b) => Buffer.compare(a.name, b.name));
  for (let g = 1; g < stream.groups.length; g++) {
    if (stream.groups[g - 1].name.equals(stream.groups[g].name)) r.fail(`stream has two groups named ${printableBytes(stream.groups[g].name)}`);
  }
  return { type: 'stream', stream };
}

/** Decodes one listpack node, appending its live entries; returns the last entry ID seen. */
function readNode(blob: ByteReader, items: PackedItem[], master: [U64, U64], entries: Array<[string, Buffer[]]>, prevId: [U64, U64] | null): [U64, U64] | null {
  let i = 0;
  const next = (what: string): PackedItem => {
    if (i >= items.length) blob.fail(`stream listpack ends inside an entry (reading ${what})`, 'corrupt', 0);
    return items[i++];
  };
  const int = (what: string): number => {
    const v = next(what);
    if (typeof v !== 'number') blob.fail(`stream listpack: ${what} is not a small integer`, 'corrupt', 0);
    return v;
  };
  const delta = (what: string): U64 => {
    const v = next(what);
    if (typeof v === 'object') blob.fail(`stream listpack: ${what} is not an integer`, 'corrupt', 0);
    return v;
  };

  const live = int('master entry count');
  const deleted = int('master entry deleted count');
  const masterFieldCount = int('master field count');
  const masterFields: Buffer[] = [];
  for (let f = 0; f < masterFieldCount; f++) masterFields.push(itemBytes(next('master field')));
  if (int('master entry terminator') !== 0) blob.fail('stream listpack master entry does not end with 0', 'corrupt', 0);

  let seenLive = 0;
  let seenDeleted = 0;
  while (i < items.length) {
    const flags = int('entry flags');
    const id: [U64, U64] = [addU64(blob, master[0], delta('entry ms delta')), addU64(blob, master[1], delta('entry seq delta'))];
    let fieldsAndValues: Buffer[];
    let lpCount: number;
    if (flags & FLAG_SAMEFIELDS) {
      fieldsAndValues = [];
      for (let f = 0; f < masterFieldCount; f++) fieldsAndValues.push(masterFields[f], itemBytes(next('entry value')));
      lpCount = masterFieldCount + 3;
    } else {
      const fieldCount = int('entry field count');
      fieldsAndValues = [];
      for (let f = 0; f < fieldCount; f++) fieldsAndValues.push(itemBytes(next('entry field')), itemBytes(next('entry value')));
      lpCount = 2 * fieldCount + 4;
    }
    const recorded = int('entry lp-count');
    if (recorded !== lpCount) blob.fail(`stream entry lp-count ${recorded}, expected ${lpCount}`, 'corrupt', 0);
    if (prevId && compareU64Pair(prevId, id) >= 0) blob.fail(`stream entry ID ${idText(id)} does not follow ${idText(prevId)}`, 'corrupt', 0);
    prevId = id;
    if (flags & FLAG_DELETED) seenDeleted++;
    else {
      seenLive++;
      entries.push([idText(id), fieldsAndValues]);
    }
  }
  if (seenLive !== live || seenDeleted !== deleted) {
    blob.fail(`stream listpack master entry counts ${live} live and ${deleted} deleted entries, but holds ${seenLive} and ${seenDeleted}`, 'corrupt', 0);
  }
  return prevId;
}

function readGroup(r: ByteReader, type: number): ParsedStreamGroup {
  const name = readString(r, 'stream group name');
  const lastDeliveredId = readId(r, 'stream group last delivered ID');
  const group: ParsedStreamGroup = { name, lastDeliveredId, consumers: [], pending: [], deliveryTimesMs: [], consumerTimes: [] };
  if (type >= RdbType.STREAM_LISTPACKS_2) {
    const at = r.pos;
    const read = readLengthBig(r, 'stream group entries read');
    if (read === U64_MAX) group.entriesRead = null;
    else if (typeof read === 'number') group.entriesRead = read;
    else r.fail(`stream group entries read ${read} is out of range`, 'corrupt', at);
  }

  // The group PEL: ID -> delivery time and count; owners come with the consumers below.
  const pelCount = readLength(r, 'stream group PEL size');
  const pel = new Map<string, { id: string; time: number; count: number; owner: Buffer | null }>();
  const order: string[] = [];
  for (let p = 0; p < pelCount; p++) {
    const at = r.pos;
    const id = rawId(r, 'stream PEL entry ID');
    const time = r.timeMs('stream PEL delivery time');
    const count = readLength(r, 'stream PEL delivery count');
    if (pel.has(id)) r.fail(`stream group PEL lists ${id} twice`, 'corrupt', at);
    pel.set(id, { id, time, count, owner: null });
    order.push(id);
  }

  const consumerCount = readLength(r, 'stream consumer count');
  const consumers: Array<{ name: Buffer; seenTimeMs: number; activeTimeMs?: number }> = [];
  for (let c = 0; c < consumerCount; c++) {
    const cname = readString(r, 'stream consumer name');
    const seenTimeMs = r.timeMs('stream consumer seen time');
    const consumer: { name: Buffer; seenTimeMs: number; activeTimeMs?: number } = { name: cname, seenTimeMs };
    if (type >= RdbType.STREAM_LISTPACKS_3) consumer.activeTimeMs = r.timeMs('stream consumer active time');
    consumers.push(consumer);
    const owned = readLength(r, 'stream consumer PEL size');
    for (let p = 0; p < owned; p++) {
      const at = r.pos;
      const id = rawId(r, 'stream consumer PEL entry ID');
      const nack = pel.get(id);
      if (!nack) r.fail(`stream consumer ${printableBytes(cname)} owns ${id}, which is not in the group PEL`, 'corrupt', at);
      if (nack.owner) r.fail(`stream PEL entry ${id} is owned by two consumers`, 'corrupt', at);
      nack.owner = cname;
    }
  }
  consumers.sort((a, b) => Buffer.compare(a.name, b.name));
  for (let c = 0; c < consumers.length; c++) {
    if (c > 0 && consumers[c - 1].name.equals(consumers[c].name)) r.fail(`stream group has two consumers named ${printableBytes(consumers[c].name)}`);
    const { name: cname, ...times } = consumers[c];
    group.consumers.push(cname);
    group.consumerTimes.push(times);
  }

  order.sort(compareStreamIds);
  for (const id of order) {
    const nack = pel.get(id)!;
    if (!nack.owner) r.fail(`stream PEL entry ${id} of group ${printableBytes(name)} has no consumer`);
    group.pending.push([id, nack.owner, nack.count]);
    group.deliveryTimesMs.push(nack.time);
  }
  return group;
}

/** A stream ID stored as two lengths (ms, seq). */
function readId(r: ByteReader, what: string): string {
  const ms = readLengthBig(r, `${what} (ms)`);
  const seq = readLengthBig(r, `${what} (seq)`);
  return `${ms}-${seq}`;
}

/** A stream ID stored raw: 16 bytes, ms and seq as u64 big-endian. */
function rawId(r: ByteReader, what: string): string {
  const ms = r.u64be(what);
  const seq = r.u64be(what);
  return `${ms}-${seq}`;
}

function u64be(b: Buffer, at: number): U64 {
  const hi = b.readUInt32BE(at);
  const lo = b.readUInt32BE(at + 4);
  return hi < 0x200000 ? hi * 0x100000000 + lo : (BigInt(hi) << 32n) | BigInt(lo);
}

/** master + delta (delta may be negative for seq): must stay within 0 .. 2^64-1. */
function addU64(blob: ByteReader, base: U64, delta: U64): U64 {
  if (typeof base === 'number' && typeof delta === 'number') {
    const sum = base + delta;
    if (Number.isSafeInteger(sum) && sum >= 0) return sum;
  }
  const sum = BigInt(base) + BigInt(delta);
  if (sum < 0n || sum > U64_MAX) blob.fail(`stream entry ID part ${sum} is out of range`, 'corrupt', 0);
  return sum <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(sum) : sum;
}

/** Compares with < and > only: they work across number and bigint. */
function compareU64Pair(a: [U64, U64], b: [U64, U64]): number {
  if (a[0] < b[0]) return -1;
  if (a[0] > b[0]) return 1;
  return a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0;
}

function idText(id: [U64, U64]): string {
  return `${id[0]}-${id[1]}`;
}
