/**
 * A key's value as Redis commands see it, independent of how a server encodes it (DUMP payloads of
 * the same value differ between versions and encodings). Used to copy a key with plain commands,
 * and to decide whether two keys hold the same value.
 */
export type LogicalValue =
  | { type: 'string'; value: Buffer }
  | { type: 'list'; items: Buffer[] }
  /** Members sorted by bytes (Buffer.compare). */
  | { type: 'set'; members: Buffer[] }
  /** Field/value pairs sorted by field bytes. */
  | { type: 'hash'; fields: Array<[Buffer, Buffer]> }
  /** Member/score pairs in rank order; scores as numbers (±Infinity for inf). */
  | { type: 'zset'; members: Array<[Buffer, number]> }
  | { type: 'stream'; stream: StreamValue };

export interface StreamValue {
  /** Entries in ID order: `[id, [field, value, field, value…]]`. */
  entries: Array<[id: string, fieldsAndValues: Buffer[]]>;
  /** last-generated-id: may be greater than the last entry's ID (deleted or trimmed entries). */
  lastId: string;
  length: number;
  /** entries-added (Redis ≥ 7.0 only). */
  entriesAdded?: number;
  /** max-deleted-entry-id (Redis ≥ 7.0 only). */
  maxDeletedId?: string;
  /** Consumer groups sorted by name bytes. */
  groups: StreamGroup[];
}

/** A stream without its entries: what is read whole even when the entries are read in windows. */
export type StreamMeta = Omit<StreamValue, 'entries'>;

export interface StreamGroup {
  name: Buffer;
  lastDeliveredId: string;
  /** entries-read: absent before Redis 7.0; null when the server does not know it. */
  entriesRead?: number | null;
  /** Consumer names sorted by bytes. */
  consumers: Buffer[];
  /** The pending entries list in ID order. */
  pending: Array<[id: string, consumer: Buffer, deliveryCount: number]>;
}

/** Approximate size of a value in bytes (its strings plus 8 bytes per number or ID). */
export function valueSize(v: LogicalValue): number {
  switch (v.type) {
    case 'string':
      return v.value.length;
    case 'list':
      return sumBytes(v.items);
    case 'set':
      return sumBytes(v.members);
    case 'hash': {
      let n = 0;
      for (const [f, val] of v.fields) n += f.length + val.length;
      return n;
    }
    case 'zset': {
      let n = 0;
      for (const [m] of v.members) n += m.length + 8;
      return n;
    }
    case 'stream': {
      let n = 0;
      for (const [, fv] of v.stream.entries) n += 16 + sumBytes(fv);
      for (const g of v.stream.groups) n += g.name.length + sumBytes(g.consumers) + g.pending.length * 24;
      return n;
    }
  }
}

function sumBytes(items: readonly Buffer[]): number {
  let n = 0;
  for (const b of items) n += b.length;
  return n;
}

/**
 * True when both values are the same logically. Zset scores are compared as numbers. Stream
 * metadata that only some servers keep (entries-added, max-deleted-entry-id, entries-read) is
 * compared only when both sides report it; everything else must match exactly.
 */
export function valuesEqual(a: LogicalValue, b: LogicalValue): boolean {
  return findDifference(a, b) === null;
}

/** A short sentence naming the first difference, e.g. `list differs at index 3 of 10: "a" vs "b"`. */
export function describeDifference(a: LogicalValue, b: LogicalValue): string {
  return findDifference(a, b) ?? 'the values are equal';
}

/** The first difference as text, or null when the values are equal (one walk serves both uses). */
function findDifference(a: LogicalValue, b: LogicalValue): string | null {
  if (a.type !== b.type) return `type differs: ${a.type} vs ${b.type}`;
  switch (a.type) {
    case 'string': {
      const bv = (b as typeof a).value;
      if (a.value.equals(bv)) return null;
      if (a.value.length !== bv.length) return `string differs: ${a.value.length} vs ${bv.length} bytes`;
      return `string differs at byte ${firstDifferingByte(a.value, bv)} of ${a.value.length}`;
    }
    case 'list':
      return listDifference('list', a.items, (b as typeof a).items);
    case 'set':
      return setDifference(a.members, (b as typeof a).members);
    case 'hash':
      return hashDifference(a.fields, (b as typeof a).fields);
    case 'zset':
      return zsetDifference(a.members, (b as typeof a).members);
    case 'stream':
      return streamDifference(a.stream, (b as typeof a).stream);
  }
}

function firstDifferingByte(a: Buffer, b: Buffer): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return i;
  return n;
}

function listDifference(what: string, a: readonly Buffer[], b: readonly Buffer[], unit = 'items'): string | null {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    if (!a[i].equals(b[i])) return `${what} differs at index ${i} of ${a.length}: ${printableBytes(a[i])} vs ${printableBytes(b[i])}`;
  }
  if (a.length !== b.length) return `${what} has ${a.length} vs ${b.length} ${unit}`;
  return null;
}

/** Walks two byte-sorted lists together; returns the first member only one side has. */
function sortedMismatch(a: readonly Buffer[], b: readonly Buffer[]): { member: Buffer; onlyIn: 'first' | 'second' } | null {
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const c = Buffer.compare(a[i], b[j]);
    if (c === 0) {
      i++;
      j++;
    } else if (c < 0) return { member: a[i], onlyIn: 'first' };
    else return { member: b[j], onlyIn: 'second' };
  }
  if (i < a.length) return { member: a[i], onlyIn: 'first' };
  if (j < b.length) return { member: b[j], onlyIn: 'second' };
  return null;
}

function setDifference(a: readonly Buffer[], b: readonly Buffer[]): string | null {
  const miss = sortedMismatch(a, b);
  if (!miss) return null;
  return `set member ${printableBytes(miss.member)} is only in the ${miss.onlyIn} value (${a.length} vs ${b.length} members)`;
}

function hashDifference(a: ReadonlyArray<[Buffer, Buffer]>, b: ReadonlyArray<[Buffer, Buffer]>): string | null {
  const miss = sortedMismatch(
    a.map(([f]) => f),
    b.map(([f]) => f),
  );
  if (miss) return `hash field ${printableBytes(miss.member)} is only in the ${miss.onlyIn} value (${a.length} vs ${b.length} fields)`;
  // Same fields in the same (sorted) order: compare the values pairwise.
  for (let i = 0; i < a.length; i++) {
    if (!a[i][1].equals(b[i][1])) return `hash field ${printableBytes(a[i][0])} differs: ${printableBytes(a[i][1])} vs ${printableBytes(b[i][1])}`;
  }
  return null;
}

function zsetDifference(a: ReadonlyArray<[Buffer, number]>, b: ReadonlyArray<[Buffer, number]>): string | null {
  // Equal zsets have equal rank orders (score, then member bytes), so a pairwise walk suffices.
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const [am, as] = a[i];
    const [bm, bs] = b[i];
    if (!am.equals(bm)) {
      const other = b.find(([m]) => m.equals(am));
      if (other) return `zset member ${printableBytes(am)} has score ${formatNumber(as)} vs ${formatNumber(other[1])}`;
      return `zset differs at rank ${i} of ${a.length}: member ${printableBytes(am)} vs ${printableBytes(bm)}`;
    }
    if (as !== bs) return `zset member ${printableBytes(am)} has score ${formatNumber(as)} vs ${formatNumber(bs)}`;
  }
  if (a.length !== b.length) return `zset has ${a.length} vs ${b.length} members`;
  return null;
}

function formatNumber(n: number): string {
  return Number.isFinite(n) ? String(n) : n > 0 ? 'inf' : '-inf';
}

function streamDifference(a: StreamValue, b: StreamValue): string | null {
  const n = Math.min(a.entries.length, b.entries.length);
  for (let i = 0; i < n; i++) {
    const [aid, afv] = a.entries[i];
    const [bid, bfv] = b.entries[i];
    if (aid !== bid) return `stream entry ${i} of ${a.entries.length} has id ${aid} vs ${bid}`;
    const d = listDifference(`stream entry ${aid}`, afv, bfv, 'fields and values');
    if (d) return d;
  }
  if (a.entries.length !== b.entries.length) return `stream has ${a.entries.length} vs ${b.entries.length} entries`;
  return streamMetaDifference(a, b, [achievableMaxDeletedId(a), achievableMaxDeletedId(b)]);
}

/**
 * The first difference in what a stream holds besides its entries (length, last-generated-id,
 * entries-added, max-deleted-entry-id, groups), or null. `achievable` is achievableMaxDeletedId of
 * each side: a caller that walks the entries in windows computes it with MissingPendingWalk.
 */
export function streamMetaDifference(a: StreamMeta, b: StreamMeta, achievable: [string | undefined, string | undefined]): string | null {
  if (a.length !== b.length) return `stream length ${a.length} vs ${b.length}`;
  if (a.lastId !== b.lastId) return `stream last-generated-id ${a.lastId} vs ${b.lastId}`;
  if (a.entriesAdded !== undefined && b.entriesAdded !== undefined && a.entriesAdded !== b.entriesAdded) {
    return `stream entries-added ${a.entriesAdded} vs ${b.entriesAdded}`;
  }
  if (a.maxDeletedId !== undefined && b.maxDeletedId !== undefined && achievable[0] !== achievable[1]) {
    return `stream max-deleted-entry-id ${a.maxDeletedId} vs ${b.maxDeletedId}`;
  }
  const groupMiss = sortedMismatch(
    a.groups.map((g) => g.name),
    b.groups.map((g) => g.name),
  );
  if (groupMiss) return `stream group ${printableBytes(groupMiss.member)} is only in the ${groupMiss.onlyIn} value`;
  for (let i = 0; i < a.groups.length; i++) {
    const d = groupDifference(a.groups[i], b.groups[i]);
    if (d) return `stream group ${printableBytes(a.groups[i].name)}: ${d}`;
  }
  return null;
}

function groupDifference(a: StreamGroup, b: StreamGroup): string | null {
  if (a.lastDeliveredId !== b.lastDeliveredId) return `last-delivered-id ${a.lastDeliveredId} vs ${b.lastDeliveredId}`;
  // null means the server does not know entries-read (XGROUP CREATE with an arbitrary ID): a
  // server that does know it is not wrong, so only two known counts are compared.
  if (typeof a.entriesRead === 'number' && typeof b.entriesRead === 'number' && a.entriesRead !== b.entriesRead) {
    return `entries-read ${a.entriesRead} vs ${b.entriesRead}`;
  }
  const consumerMiss = sortedMismatch(a.consumers, b.consumers);
  if (consumerMiss) return `consumer ${printableBytes(consumerMiss.member)} is only in the ${consumerMiss.onlyIn} value`;
  const n = Math.min(a.pending.length, b.pending.length);
  for (let i = 0; i < n; i++) {
    const [aid, aowner, acount] = a.pending[i];
    const [bid, bowner, bcount] = b.pending[i];
    if (aid !== bid) return `pending entry ${i} of ${a.pending.length} has id ${aid} vs ${bid}`;
    if (!aowner.equals(bowner)) return `pending entry ${aid} is owned by ${printableBytes(aowner)} vs ${printableBytes(bowner)}`;
    if (acount !== bcount) return `pending entry ${aid} has delivery count ${acount} vs ${bcount}`;
  }
  if (a.pending.length !== b.pending.length) return `${a.pending.length} vs ${b.pending.length} pending entries`;
  return null;
}

/**
 * The max-deleted-entry-id a copy written with commands can have. Normally the source's own: XSETID
 * sets it. But XSETID cannot set it back to 0-0, and a copy must XDEL the placeholder entries it
 * adds for pending IDs whose entries are gone (see writeValue). Such an ID in the middle of the
 * stream means it was XDEL'ed, so a stream that still says 0-0 there was loaded from a pre-7.0
 * RDB file (which did not record the ID); its copy ends up with the highest such ID instead.
 */
export function achievableMaxDeletedId(s: StreamValue): string | undefined {
  return achievableMaxDeletedIdOf(s.maxDeletedId, missingPendingIds(s).middle);
}

/** achievableMaxDeletedId from the parts: the reported ID and the `middle` missing pending IDs. */
export function achievableMaxDeletedIdOf(maxDeletedId: string | undefined, middle: readonly string[]): string | undefined {
  if (maxDeletedId !== '0-0') return maxDeletedId;
  let max = '0-0';
  for (const id of middle) if (compareStreamIds(id, max) > 0) max = id;
  return max;
}

/**
 * Pending IDs whose entries are not in the stream, split by position: `front` ones come before
 * the first entry (deleted or trimmed off the head), `middle` ones after it (XDEL'ed).
 */
export function missingPendingIds(s: StreamValue): { front: string[]; middle: string[] } {
  const present = new Set(s.entries.map(([id]) => id));
  const missing = new Set<string>();
  for (const g of s.groups) for (const [id] of g.pending) if (!present.has(id)) missing.add(id);
  const first = s.entries.length > 0 ? s.entries[0][0] : null;
  const front: string[] = [];
  const middle: string[] = [];
  for (const id of [...missing].sort(compareStreamIds)) {
    if (first === null || compareStreamIds(id, first) < 0) front.push(id);
    else middle.push(id);
  }
  return { front, middle };
}

const NONE: readonly string[] = [];

/**
 * missingPendingIds for a stream whose entries come a window at a time: fed the entry IDs in order
 * (`before`), then told the entries are over (`rest`), it sorts the pending IDs of all groups that
 * have no entry into `front` and `middle` exactly as missingPendingIds does for a whole stream.
 */
export class MissingPendingWalk {
  readonly front: string[] = [];
  readonly middle: string[] = [];
  private readonly pending: string[];
  private next = 0;
  private sawEntry = false;

  constructor(groups: readonly StreamGroup[]) {
    const ids = new Set<string>();
    for (const g of groups) for (const [id] of g.pending) ids.add(id);
    this.pending = [...ids].sort(compareStreamIds);
  }

  /** The entry `id` comes next (IDs must grow): the missing pending IDs that come before it, in order. */
  before(id: string): readonly string[] {
    let missing: string[] | null = null;
    while (this.next < this.pending.length) {
      const c = compareStreamIds(this.pending[this.next], id);
      if (c > 0) break;
      if (c < 0) {
        const p = this.pending[this.next];
        (this.sawEntry ? this.middle : this.front).push(p);
        (missing ??= []).push(p);
      }
      this.next++;
    }
    this.sawEntry = true;
    return missing ?? NONE;
  }

  /** The entries are over: the pending IDs after the last entry (all of them when there was none). */
  rest(): readonly string[] {
    const missing = this.pending.slice(this.next);
    this.next = this.pending.length;
    const into = this.sawEntry ? this.middle : this.front;
    for (const id of missing) into.push(id);
    return missing;
  }
}

/** Parses a stream ID `ms-seq` into its two 64-bit parts. */
export function parseStreamId(id: string): [bigint, bigint] {
  const dash = id.indexOf('-');
  return dash < 0 ? [BigInt(id), 0n] : [BigInt(id.slice(0, dash)), BigInt(id.slice(dash + 1))];
}

export function compareStreamIds(a: string, b: string): number {
  if (a === b) return 0;
  const [am, as] = parseStreamId(a);
  const [bm, bs] = parseStreamId(b);
  if (am !== bm) return am < bm ? -1 : 1;
  return as === bs ? 0 : as < bs ? -1 : 1;
}

const MAX_U64 = (1n << 64n) - 1n;

/** The smallest ID greater than `id` (for exclusive paging on servers before 6.2), or null at the end. */
export function nextStreamId(id: string): string | null {
  const [ms, seq] = parseStreamId(id);
  if (seq < MAX_U64) return `${ms}-${seq + 1n}`;
  if (ms < MAX_U64) return `${ms + 1n}-0`;
  return null;
}

/**
 * Bytes for a message: quoted text when they are printable UTF-8, else hex (`0x00ff…`); long
 * values are cut to `max` bytes and marked with their full length.
 */
export function printableBytes(bytes: Buffer, max = 40): string {
  const cut = bytes.length > max;
  const head = cut ? bytes.subarray(0, max) : bytes;
  const more = cut ? `… (${bytes.length} bytes)` : '';
  let text: string | null;
  try {
    // stream: true tolerates a character cut in half at the end of `head`.
    text = new TextDecoder('utf-8', { fatal: true }).decode(head, { stream: cut });
  } catch {
    text = null;
  }
  if (text !== null && !/[\u0000-\u001f\u007f-\u009f\u2028\u2029\ufffd]/.test(text)) return `${JSON.stringify(text)}${more}`;
  return `0x${head.toString('hex')}${more}`;
}
