import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, replyArray, replyNumber, replyText, type Reply } from '../resp/reply.js';
import { nextStreamId, printableBytes, type LogicalValue, type StreamGroup, type StreamMeta, type StreamValue } from './logicalValue.js';

/** Elements per LRANGE/ZRANGE window, COUNT hint for SSCAN/HSCAN, entries per XRANGE/XPENDING page. */
const WINDOW = 1000;
/** Bytes per GETRANGE window: a big string is read in pieces, never in one huge reply. */
const STRING_WINDOW = 1 << 20;
/** At most this many windows are in flight at once (windows of an unknown count are requested ahead). */
const MAX_DEPTH = 16;

/**
 * Reads a key's value with ordinary commands, in bounded replies. Returns null when the key does
 * not exist (or vanished while it was read). The read is not atomic: a key written meanwhile may
 * come back as a mix of before and after, which is why callers read from a staging replica or
 * compare again later.
 */
export async function readValue(endpoint: Endpoint, db: number, key: Buffer): Promise<LogicalValue | null> {
  const type = replyText(await keyCommand(endpoint, db, key, ['TYPE', key]));
  switch (type) {
    case 'none':
      return null;
    case 'string': {
      const parts = await readInWindows(
        (i) => keyCommand(endpoint, db, key, ['GETRANGE', key, i * STRING_WINDOW, (i + 1) * STRING_WINDOW - 1]).then(asBuffer),
        (part) => part.length === STRING_WINDOW,
      );
      return { type: 'string', value: parts.length === 1 ? parts[0] : Buffer.concat(parts) };
    }
    case 'list': {
      const items = (
        await readInWindows(
          (i) => keyCommand(endpoint, db, key, ['LRANGE', key, i * WINDOW, (i + 1) * WINDOW - 1]).then((r) => replyArray(r).map(asBuffer)),
          (part) => part.length === WINDOW,
        )
      ).flat();
      return items.length === 0 ? null : { type: 'list', items };
    }
    case 'zset': {
      const members = (
        await readInWindows(
          (i) => keyCommand(endpoint, db, key, ['ZRANGE', key, i * WINDOW, (i + 1) * WINDOW - 1, 'WITHSCORES']).then(scoredMembers),
          (part) => part.length === WINDOW,
        )
      ).flat();
      return members.length === 0 ? null : { type: 'zset', members };
    }
    case 'set': {
      const seen = new Map<string, Buffer>();
      await scan(endpoint, db, key, 'SSCAN', (items) => {
        // The SCAN family may return an element twice: keep one (keyed by its bytes).
        for (const item of items) seen.set(item.toString('latin1'), item);
      });
      const members = [...seen.values()].sort(Buffer.compare);
      return members.length === 0 ? null : { type: 'set', members };
    }
    case 'hash': {
      const seen = new Map<string, [Buffer, Buffer]>();
      await scan(endpoint, db, key, 'HSCAN', (items) => {
        for (let i = 0; i + 1 < items.length; i += 2) seen.set(items[i].toString('latin1'), [items[i], items[i + 1]]);
      });
      const fields = [...seen.values()].sort((a, b) => Buffer.compare(a[0], b[0]));
      return fields.length === 0 ? null : { type: 'hash', fields };
    }
    case 'stream': {
      const stream = await readStream(endpoint, db, key);
      return stream && { type: 'stream', stream };
    }
    default:
      throw new Error(`${endpoint.label}: key ${printableBytes(key)} has type ${type}, which Ferry cannot read with commands (a module type?); exclude the key or copy it with its DUMP payload`);
  }
}

/**
 * Sends one key command; an error reply rejects with a ReplyError that keeps the server's code and
 * message first (callers classify OOM, READONLY… by it) and adds which key and command failed.
 */
export async function keyCommand(endpoint: Endpoint, db: number, routeKey: Buffer, args: readonly Arg[]): Promise<Reply> {
  try {
    return await endpoint.call(db, routeKey, ...args);
  } catch (err) {
    if (!(err instanceof ReplyError)) throw err;
    throw new ReplyError(`${err.message} (${endpoint.label}: ${commandName(args)} on key ${printableBytes(routeKey)})`, err.code);
  }
}

/** `XADD`, or `XGROUP CREATE` for the commands with subcommands. */
function commandName(args: readonly Arg[]): string {
  const name = String(args[0]).toUpperCase();
  return name === 'XINFO' || name === 'XGROUP' ? `${name} ${String(args[1]).toUpperCase()}` : name;
}

/**
 * Requests windows 0, 1, 2… of a value whose size is unknown, a growing number at once (1, 2, 4…
 * up to MAX_DEPTH: a small key costs one command, a big one is pipelined), until a window comes
 * back short. Windows fetched past the end are dropped.
 */
async function readInWindows<T>(fetch: (index: number) => Promise<T>, full: (part: T) => boolean): Promise<T[]> {
  const parts: T[] = [];
  let next = 0;
  for (let depth = 1; ; depth = Math.min(depth * 2, MAX_DEPTH)) {
    const batch = await Promise.all(Array.from({ length: depth }, (_, i) => fetch(next + i)));
    next += depth;
    for (const part of batch) {
      parts.push(part);
      if (!full(part)) return parts;
    }
  }
}

async function scan(endpoint: Endpoint, db: number, key: Buffer, command: 'SSCAN' | 'HSCAN', onItems: (items: Buffer[]) => void): Promise<void> {
  let cursor = '0';
  do {
    const [next, items] = replyArray(await keyCommand(endpoint, db, key, [command, key, cursor, 'COUNT', WINDOW]));
    cursor = replyText(next);
    onItems(replyArray(items).map(asBuffer));
  } while (cursor !== '0');
}

function scoredMembers(reply: Reply): Array<[Buffer, number]> {
  const flat = replyArray(reply);
  const out: Array<[Buffer, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) out.push([asBuffer(flat[i]), parseScore(flat[i + 1])]);
  return out;
}

/** A score as Redis prints it: `%.17g` text, or inf / -inf. */
export function parseScore(reply: Reply): number {
  const text = replyText(reply).toLowerCase();
  if (text === 'inf' || text === '+inf') return Infinity;
  if (text === '-inf') return -Infinity;
  const n = Number(text);
  if (Number.isNaN(n)) throw new Error(`unexpected sorted-set score ${JSON.stringify(text)}`);
  return n;
}

async function readStream(endpoint: Endpoint, db: number, key: Buffer): Promise<StreamValue | null> {
  const meta = await readStreamMeta(endpoint, db, key);
  if (!meta) return null;
  const after = streamPageStart(endpoint);
  const entries: StreamValue['entries'] = [];
  for (let start: string | null = '-'; start !== null; ) {
    const page = replyArray(await keyCommand(endpoint, db, key, ['XRANGE', key, start, '+', 'COUNT', WINDOW]));
    for (const entry of page) {
      const [id, fieldsAndValues] = replyArray(entry);
      entries.push([replyText(id), replyArray(fieldsAndValues).map(asBuffer)]);
    }
    start = page.length < WINDOW ? null : after(entries[entries.length - 1][0]);
  }
  return { entries, ...meta };
}

/**
 * The range start of the page after `id`: `(id` (exclusive), or on servers before 6.2, which have
 * no exclusive start, id + 1 (null after the greatest possible ID).
 */
export function streamPageStart(endpoint: Endpoint): (id: string) => string | null {
  return atLeast(endpoint.facts, 6, 2) ? (id) => `(${id}` : nextStreamId;
}

/**
 * Everything a stream holds except its entries: XINFO STREAM, the groups with their consumers and
 * pending entries (read whole: small next to the entries). Null when the key does not exist.
 */
export async function readStreamMeta(endpoint: Endpoint, db: number, key: Buffer): Promise<StreamMeta | null> {
  let info: Map<string, Reply>;
  try {
    info = fieldMap(await keyCommand(endpoint, db, key, ['XINFO', 'STREAM', key]));
  } catch (err) {
    if (err instanceof ReplyError && /no such key/i.test(err.message)) return null;
    throw err;
  }
  const after = streamPageStart(endpoint);

  const groupInfos = replyArray(await keyCommand(endpoint, db, key, ['XINFO', 'GROUPS', key])).map(fieldMap);
  const groups = await Promise.all(
    groupInfos.map(async (g): Promise<StreamGroup> => {
      const name = asBuffer(required(g, 'name'));
      const consumers = replyArray(await keyCommand(endpoint, db, key, ['XINFO', 'CONSUMERS', key, name]))
        .map((c) => asBuffer(required(fieldMap(c), 'name')))
        .sort(Buffer.compare);
      const pending: StreamGroup['pending'] = [];
      for (let start: string | null = '-'; start !== null; ) {
        const page = replyArray(await keyCommand(endpoint, db, key, ['XPENDING', key, name, start, '+', WINDOW]));
        for (const row of page) {
          const [id, consumer, , deliveries] = replyArray(row);
          pending.push([replyText(id), asBuffer(consumer), replyNumber(deliveries)]);
        }
        start = page.length < WINDOW ? null : after(pending[pending.length - 1][0]);
      }
      const group: StreamGroup = { name, lastDeliveredId: replyText(required(g, 'last-delivered-id')), consumers, pending };
      // Redis 7.0+ reports entries-read, as nil when it does not know the count.
      if (g.has('entries-read')) {
        const read = g.get('entries-read');
        group.entriesRead = read === null || read === undefined ? null : replyNumber(read);
      }
      return group;
    }),
  );
  groups.sort((a, b) => Buffer.compare(a.name, b.name));

  const meta: StreamMeta = {
    lastId: replyText(required(info, 'last-generated-id')),
    length: replyNumber(required(info, 'length')),
    groups,
  };
  const entriesAdded = info.get('entries-added');
  if (entriesAdded !== undefined && entriesAdded !== null) meta.entriesAdded = replyNumber(entriesAdded);
  const maxDeleted = info.get('max-deleted-entry-id');
  if (maxDeleted !== undefined && maxDeleted !== null) meta.maxDeletedId = replyText(maxDeleted);
  return meta;
}

/** XINFO replies are flat name/value arrays; they are read by name, since fields were added over versions. */
function fieldMap(reply: Reply): Map<string, Reply> {
  const flat = replyArray(reply);
  const map = new Map<string, Reply>();
  for (let i = 0; i + 1 < flat.length; i += 2) map.set(replyText(flat[i]), flat[i + 1]);
  return map;
}

function required(map: Map<string, Reply>, name: string): Reply {
  const value = map.get(name);
  if (value === undefined) throw new Error(`XINFO reply without "${name}"`);
  return value;
}

/** Bytes of a string reply (simple strings arrive as latin1 text, so latin1 gives the bytes back). */
export function asBuffer(reply: Reply): Buffer {
  if (Buffer.isBuffer(reply)) return reply;
  if (typeof reply === 'string') return Buffer.from(reply, 'latin1');
  if (typeof reply === 'number') return Buffer.from(String(reply));
  if (reply instanceof ReplyError) throw reply;
  throw new TypeError(`expected a string reply, got ${reply === null ? 'nil' : 'an array'}`);
}
