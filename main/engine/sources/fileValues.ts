import type { Endpoint } from '../endpoints/endpoint.js';
import type { ServerFacts } from '../endpoints/serverFacts.js';
import { parseDumpPayload, type ParsedValue } from '../rdb/index.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, type Reply } from '../resp/reply.js';
import { compareStreamIds, type LogicalValue, type StreamValue } from '../values/logicalValue.js';
import { formatScore } from '../values/writeValue.js';

/**
 * What RestoreWriter needs of its `source` when the source is an RDB file: it reads a key's value
 * with commands (values/readValue) only on its slow paths (the target refused the payload, or the
 * key exists there with other payload bytes). This answers those read commands (TYPE, GETRANGE,
 * LRANGE, ZRANGE … WITHSCORES, SSCAN, HSCAN, XINFO, XRANGE, XPENDING, EXISTS) from the DUMP
 * payload of the key while it is in flight, parsed on first use. It is not a server: anything else
 * is refused, and keys that are not in flight do not exist.
 */
export class FileValues {
  readonly label: string;
  readonly facts: ServerFacts;
  readonly isCluster = false;
  readonly clockOffsetMs = 0;
  /** Payloads of the keys in flight, by the identity of their key Buffer (the writer passes it on as it got it). */
  private readonly payloads = new Map<Buffer, { db: number; payload: Buffer; value?: LogicalValue | null }>();

  constructor(label: string) {
    this.label = label;
    this.facts = {
      version: 'RDB file',
      versionParts: [7, 0, 0],
      rdbVersion: 0,
      clusterEnabled: false,
      keyspace: new Map(),
      fieldTtlKeys: null,
      usedMemory: 0,
    };
  }

  /** The file's header was read: its RDB version, and the Redis release line that writes it. */
  setRdbVersion(version: number): void {
    this.facts.rdbVersion = version;
    this.facts.version = `RDB file version ${version}`;
  }

  /** As an Endpoint for RestoreWriter, which only ever reads values from it (see the class). */
  asEndpoint(): Endpoint {
    return this as unknown as Endpoint;
  }

  add(db: number, key: Buffer, payload: Buffer): void {
    this.payloads.set(key, { db, payload });
  }

  remove(key: Buffer): void {
    this.payloads.delete(key);
  }

  call(db: number, key: Buffer, ...args: Arg[]): Promise<Reply> {
    try {
      const reply = this.answer(db, key, args);
      return reply instanceof ReplyError ? Promise.reject(reply) : Promise.resolve(reply);
    } catch (err) {
      return Promise.reject(err instanceof ReplyError ? err : new ReplyError(`ERR ${(err as Error).message}`));
    }
  }

  send<C>(db: number, key: Buffer, args: readonly Arg[], callback: (reply: Reply, context: C) => void, context?: C): void {
    let reply: Reply;
    try {
      reply = this.answer(db, key, args);
    } catch (err) {
      reply = err instanceof ReplyError ? err : new ReplyError(`ERR ${(err as Error).message}`);
    }
    queueMicrotask(() => callback(reply, context as C));
  }

  /** Nothing to wait for, nothing to close: the file is read elsewhere. */
  async drain(): Promise<void> {}
  close(): void {}
  get connectionLost(): boolean {
    return false;
  }

  private valueOf(db: number, key: Buffer): LogicalValue | null {
    let held = this.payloads.get(key);
    if (!held || held.db !== db) {
      // Not the same Buffer object: look for equal bytes (slow, and only on the slow paths).
      held = undefined;
      for (const [k, v] of this.payloads) {
        if (v.db === db && k.equals(key)) {
          held = v;
          break;
        }
      }
    }
    if (!held) return null;
    if (held.value === undefined) held.value = logical(parseDumpPayload(held.payload).value);
    return held.value;
  }

  private answer(db: number, key: Buffer, args: readonly Arg[]): Reply {
    const name = String(args[0]).toUpperCase();
    const sub = name === 'XINFO' ? String(args[1]).toUpperCase() : '';
    const v = this.valueOf(db, key);
    switch (name) {
      case 'EXISTS':
        return v ? 1 : 0;
      case 'TYPE':
        return v ? v.type : 'none';
    }
    if (!v) {
      if (name === 'XINFO' && sub === 'STREAM') return new ReplyError('ERR no such key');
      if (name === 'GETRANGE') return Buffer.alloc(0);
      if (name === 'SSCAN' || name === 'HSCAN') return ['0', []];
      return [];
    }
    const wrongType = () => new ReplyError('WRONGTYPE Operation against a key holding the wrong kind of value');
    switch (name) {
      case 'GETRANGE': {
        if (v.type !== 'string') return wrongType();
        const [from, to] = range(v.value.length, Number(args[2]), Number(args[3]));
        return v.value.subarray(from, to + 1);
      }
      case 'LRANGE': {
        if (v.type !== 'list') return wrongType();
        const [from, to] = range(v.items.length, Number(args[2]), Number(args[3]));
        return v.items.slice(from, to + 1);
      }
      case 'ZRANGE': {
        if (v.type !== 'zset') return wrongType();
        const [from, to] = range(v.members.length, Number(args[2]), Number(args[3]));
        const out: Reply[] = [];
        for (const [member, score] of v.members.slice(from, to + 1)) out.push(member, formatScore(score));
        return out;
      }
      case 'SSCAN':
      case 'HSCAN': {
        const items: Reply[] = name === 'SSCAN' ? (v.type === 'set' ? v.members : []) : v.type === 'hash' ? v.fields.flat() : [];
        if ((name === 'SSCAN' && v.type !== 'set') || (name === 'HSCAN' && v.type !== 'hash')) return wrongType();
        const per = name === 'SSCAN' ? 1 : 2;
        const at = Number(args[2]) * per;
        const count = Math.max(1, Number(countArg(args) ?? 10)) * per;
        const next = at + count >= items.length ? '0' : String((at + count) / per);
        return [next, items.slice(at, at + count)];
      }
      case 'XINFO':
      case 'XRANGE':
      case 'XPENDING':
        if (v.type !== 'stream') return wrongType();
        return streamCommand(v.stream, name, sub, args);
    }
    return new ReplyError(`ERR ${name} is not something Ferry can answer from an RDB file`);
  }
}

/** Redis range semantics (negative indexes from the end), as inclusive [from, to]; from > to when empty. */
function range(length: number, start: number, stop: number): [number, number] {
  const from = Math.max(0, start < 0 ? length + start : start);
  const to = Math.min(length - 1, stop < 0 ? length + stop : stop);
  return [from, to];
}

function countArg(args: readonly Arg[]): number | undefined {
  for (let i = 0; i + 1 < args.length; i++) if (String(args[i]).toUpperCase() === 'COUNT') return Number(args[i + 1]);
  return undefined;
}

/** `-`, `+`, an ID, or `(ID` (exclusive) as readValue pages with them. */
function inRange(id: string, start: string, end: string): boolean {
  if (start !== '-') {
    const exclusive = start.startsWith('(');
    const c = compareStreamIds(id, exclusive ? start.slice(1) : start);
    if (c < 0 || (exclusive && c === 0)) return false;
  }
  return end === '+' || compareStreamIds(id, end) <= 0;
}

function streamCommand(s: StreamValue, name: string, sub: string, args: readonly Arg[]): Reply {
  if (name === 'XRANGE') {
    const [, , start, end] = args.map(String);
    const count = countArg(args) ?? Infinity;
    const out: Reply[] = [];
    for (const [id, fv] of s.entries) {
      if (out.length >= count) break;
      if (inRange(id, start, end)) out.push([id, fv]);
    }
    return out;
  }
  if (name === 'XPENDING') {
    // XPENDING key group start end count
    const group = s.groups.find((g) => g.name.equals(Buffer.from(args[2] as Buffer | string)));
    if (!group) return new ReplyError('NOGROUP No such key or consumer group');
    const [start, end] = [String(args[3]), String(args[4])];
    const count = Number(args[5]);
    const out: Reply[] = [];
    for (const [id, consumer, deliveries] of group.pending) {
      if (out.length >= count) break;
      if (inRange(id, start, end)) out.push([id, consumer, 0, deliveries]);
    }
    return out;
  }
  switch (sub) {
    case 'STREAM': {
      const out: Reply[] = ['length', s.length, 'last-generated-id', s.lastId];
      if (s.entriesAdded !== undefined) out.push('entries-added', s.entriesAdded);
      if (s.maxDeletedId !== undefined) out.push('max-deleted-entry-id', s.maxDeletedId);
      return out;
    }
    case 'GROUPS':
      return s.groups.map((g) => {
        const out: Reply[] = ['name', g.name, 'consumers', g.consumers.length, 'pending', g.pending.length, 'last-delivered-id', g.lastDeliveredId];
        if (g.entriesRead !== undefined) out.push('entries-read', g.entriesRead);
        return out;
      });
    case 'CONSUMERS': {
      const group = s.groups.find((g) => g.name.equals(Buffer.from(args[3] as Buffer | string)));
      if (!group) return new ReplyError('NOGROUP No such consumer group for key name');
      return group.consumers.map((c) => ['name', c, 'pending', group.pending.filter(([, owner]) => owner.equals(c)).length, 'idle', 0]);
    }
  }
  return new ReplyError(`ERR XINFO ${sub} is not something Ferry can answer from an RDB file`);
}

/**
 * A parsed value as commands would show it: hash fields whose own TTL has passed are gone (the
 * server drops them), so a copy written with commands does not bring them back to life.
 */
export function logical(value: ParsedValue, now = Date.now()): LogicalValue {
  if (value.type !== 'hash' || !value.fieldExpiresMs?.length) return value;
  const expired = new Set(value.fieldExpiresMs.filter(([, at]) => at <= now).map(([f]) => f.toString('latin1')));
  if (expired.size === 0) return value;
  return { type: 'hash', fields: value.fields.filter(([f]) => !expired.has(f.toString('latin1'))) };
}
