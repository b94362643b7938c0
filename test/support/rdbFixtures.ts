import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { LogicalValue, StreamGroup } from '../../main/engine/values/logicalValue.js';
import type { ParsedValue } from '../../main/engine/rdb/index.js';

/**
 * The Redis DUMP/RDB fixtures (see their README.md): per server version, one record per key with
 * its DUMP payload and value as the server reported it, the server's dump.rdb, and damaged RDBs.
 */
export const FIXTURES = process.env.FERRY_RDB_FIXTURES ?? '/work/shared/fixtures';

/** Versions in release order (by their version numbers, not as text). */
export const VERSIONS: string[] = readdirSync(join(FIXTURES, 'dump'))
  .filter((f) => f.endsWith('.json') && !f.endsWith('.meta.json'))
  .map((f) => f.slice(0, -'.json'.length))
  .sort((a, b) => {
    const pa = a.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
    const pb = b.split(/[.-]/).map((x) => Number.parseInt(x, 10) || 0);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) if ((pa[i] ?? 0) !== (pb[i] ?? 0)) return (pa[i] ?? 0) - (pb[i] ?? 0);
    return 0;
  });

type StreamJson = {
  entries: Array<[string, string[]]>;
  last_id: string;
  length: number;
  entries_added?: number;
  max_deleted_entry_id?: string;
  recorded_first_entry_id?: string;
  groups: Array<{ name: string; last_delivered_id: string; pending: Array<[string, string, number]>; consumers: string[]; entries_read?: number | null }>;
};

export interface RecordJson {
  db: number;
  key_hex: string;
  key_utf8_or_null: string | null;
  type: 'string' | 'list' | 'set' | 'hash' | 'zset' | 'stream';
  encoding: string;
  pttl_ms: number | null;
  dump_hex: string | null;
  value: unknown;
  field_expire_ms?: Array<[string, number]>;
  role: string;
}

export interface FixtureRecord {
  json: RecordJson;
  db: number;
  key: Buffer;
  /** For test names: the key as text where it is UTF-8, else hex. */
  label: string;
  dump: Buffer | null;
}

export interface FixtureMeta {
  version: string;
  rdb_version: number;
  functions: null | { library: string; functions: string[]; code: string; function_dump_hex: string };
}

export function loadRecords(version: string): FixtureRecord[] {
  const json = JSON.parse(readFileSync(join(FIXTURES, 'dump', `${version}.json`), 'utf8')) as RecordJson[];
  return json.map((r) => ({
    json: r,
    db: r.db,
    key: Buffer.from(r.key_hex, 'hex'),
    label: r.key_utf8_or_null ?? `0x${r.key_hex}`,
    dump: r.dump_hex === null ? null : Buffer.from(r.dump_hex, 'hex'),
  }));
}

export function loadMeta(version: string): FixtureMeta {
  return JSON.parse(readFileSync(join(FIXTURES, 'dump', `${version}.meta.json`), 'utf8')) as FixtureMeta;
}

export function rdbFile(version: string): Buffer {
  return readFileSync(join(FIXTURES, 'rdb', version, 'dump.rdb'));
}

export interface CorruptFixture {
  file: string;
  bytes: Buffer;
  damage: string;
}

export function corruptFiles(): { base: Buffer; variants: CorruptFixture[] } {
  const dir = join(FIXTURES, 'rdb', 'corrupt');
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as { variants: Array<{ file: string; damage: string }> };
  return {
    base: readFileSync(join(dir, 'base.rdb')),
    variants: manifest.variants.map((v) => ({ file: v.file, damage: v.damage, bytes: readFileSync(join(dir, v.file)) })),
  };
}

/** Splits `bytes` into chunks of `size` (the last may be shorter), as a stream would deliver them. */
export async function* chunked(bytes: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size);
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');
const score = (s: string): number => (s === 'inf' ? Infinity : s === '-inf' ? -Infinity : Number(s));
const byBytes = (a: Buffer, b: Buffer): number => Buffer.compare(a, b);

/** The recorded value as a LogicalValue (what Ferry's engine compares with valuesEqual). */
export function expectedLogical(r: RecordJson): LogicalValue {
  const v = r.value;
  switch (r.type) {
    case 'string':
      return { type: 'string', value: hex((v as { hex: string }).hex) };
    case 'list':
      return { type: 'list', items: (v as string[]).map(hex) };
    case 'set':
      return { type: 'set', members: (v as string[]).map(hex).sort(byBytes) };
    case 'hash':
      return { type: 'hash', fields: (v as Array<[string, string]>).map(([f, x]): [Buffer, Buffer] => [hex(f), hex(x)]).sort((a, b) => byBytes(a[0], b[0])) };
    case 'zset':
      return { type: 'zset', members: (v as Array<[string, string]>).map(([m, s]): [Buffer, number] => [hex(m), score(s)]) };
    case 'stream': {
      const s = v as StreamJson;
      return {
        type: 'stream',
        stream: {
          entries: s.entries.map(([id, fv]): [string, Buffer[]] => [id, fv.map(hex)]),
          lastId: s.last_id,
          length: s.length,
          ...(s.entries_added !== undefined && { entriesAdded: s.entries_added }),
          ...(s.max_deleted_entry_id !== undefined && { maxDeletedId: s.max_deleted_entry_id }),
          groups: s.groups.map(
            (g): StreamGroup => ({
              name: Buffer.from(g.name),
              lastDeliveredId: g.last_delivered_id,
              ...(g.entries_read !== undefined && { entriesRead: g.entries_read }),
              consumers: g.consumers.map((c) => Buffer.from(c)).sort(byBytes),
              pending: g.pending.map(([id, c, n]): [string, Buffer, number] => [id, Buffer.from(c), n]),
            }),
          ),
        },
      };
    }
  }
}

/**
 * A plain-JSON form of a value, in the fixtures' own shape (bytes as hex, scores as numbers), so
 * that `expect(normalise(parsed)).toEqual(normaliseRecord(record))` compares everything, including
 * the stream metadata and field TTLs LogicalValue has no place for, with a readable diff.
 */
export function normaliseParsed(v: ParsedValue): unknown {
  switch (v.type) {
    case 'string':
      return { hex: v.value.toString('hex') };
    case 'list':
      return v.items.map((b) => b.toString('hex'));
    case 'set':
      return v.members.map((b) => b.toString('hex'));
    case 'hash':
      return {
        fields: v.fields.map(([f, x]) => [f.toString('hex'), x.toString('hex')]),
        fieldExpires: v.fieldExpiresMs?.map(([f, ms]) => [f.toString('hex'), ms]) ?? null,
      };
    case 'zset':
      return v.members.map(([m, s]) => [m.toString('hex'), s]);
    case 'stream': {
      const s = v.stream;
      return {
        entries: s.entries.map(([id, fv]) => [id, fv.map((b) => b.toString('hex'))]),
        last_id: s.lastId,
        length: s.length,
        entries_added: s.entriesAdded ?? 'absent',
        max_deleted_entry_id: s.maxDeletedId ?? 'absent',
        recorded_first_entry_id: s.firstId ?? 'absent',
        groups: s.groups.map((g) => ({
          name: g.name.toString(),
          last_delivered_id: g.lastDeliveredId,
          pending: g.pending.map(([id, c, n]) => [id, c.toString(), n]),
          consumers: g.consumers.map((c) => c.toString()),
          entries_read: g.entriesRead === undefined ? 'absent' : g.entriesRead,
        })),
      };
    }
  }
}

export function normaliseRecord(r: RecordJson): unknown {
  const v = r.value;
  switch (r.type) {
    case 'string':
      return v;
    case 'list':
      return v;
    case 'set':
      return [...(v as string[])].sort((a, b) => byBytes(hex(a), hex(b)));
    case 'hash': {
      const expires = r.field_expire_ms ? [...r.field_expire_ms].sort((a, b) => byBytes(hex(a[0]), hex(b[0]))) : null;
      return {
        fields: [...(v as Array<[string, string]>)].sort((a, b) => byBytes(hex(a[0]), hex(b[0]))),
        fieldExpires: expires,
      };
    }
    case 'zset':
      return (v as Array<[string, string]>).map(([m, s]) => [m, score(s)]);
    case 'stream': {
      const s = v as StreamJson;
      return {
        entries: s.entries,
        last_id: s.last_id,
        length: s.length,
        entries_added: s.entries_added ?? 'absent',
        max_deleted_entry_id: s.max_deleted_entry_id ?? 'absent',
        recorded_first_entry_id: s.recorded_first_entry_id ?? 'absent',
        groups: s.groups.map((g) => ({
          name: g.name,
          last_delivered_id: g.last_delivered_id,
          pending: g.pending,
          consumers: g.consumers,
          entries_read: g.entries_read === undefined ? 'absent' : g.entries_read,
        })),
      };
    }
  }
}

// ---------------------------------------------------------------------------
// Hand-built inputs, for what no default-config server writes (modules, plain quicklist nodes…)
// ---------------------------------------------------------------------------

/** RDB length encoding: 6-bit, 14-bit, 32-bit or 64-bit. */
export function rdbLen(n: number | bigint): Buffer {
  const v = BigInt(n);
  if (v < 64n) return Buffer.from([Number(v)]);
  if (v < 16384n) return Buffer.from([0x40 | Number(v >> 8n), Number(v & 255n)]);
  if (v <= 0xffffffffn) {
    const b = Buffer.alloc(5);
    b[0] = 0x80;
    b.writeUInt32BE(Number(v), 1);
    return b;
  }
  const b = Buffer.alloc(9);
  b[0] = 0x81;
  b.writeBigUInt64BE(v, 1);
  return b;
}

/** An RDB string stored plainly. */
export function rdbStr(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s) : s;
  return Buffer.concat([rdbLen(b.length), b]);
}

/** A DUMP payload: body + RDB version + CRC-64 (correct unless `crc` is given). */
export function dumpPayload(body: Buffer, rdbVersion: number, crcOf: (b: Buffer) => bigint, crc?: bigint): Buffer {
  const withVersion = Buffer.concat([body, Buffer.from([rdbVersion & 255, rdbVersion >> 8])]);
  const tail = Buffer.alloc(8);
  tail.writeBigUInt64LE(crc ?? crcOf(withVersion));
  return Buffer.concat([withVersion, tail]);
}

/** An RDB file: header, `body` (opcodes and keys), 0xFF and, for version 5+, the CRC-64. */
export function rdbFileOf(version: number, body: Buffer, crcOf: (b: Buffer) => bigint): Buffer {
  const head = Buffer.concat([Buffer.from(`REDIS${String(version).padStart(4, '0')}`), body, Buffer.from([0xff])]);
  if (version < 5) return head;
  const tail = Buffer.alloc(8);
  tail.writeBigUInt64LE(crcOf(head));
  return Buffer.concat([head, tail]);
}

/** A module type ID from its 9-character name and encoding version. */
export function moduleId(name: string, encodingVersion: number): bigint {
  const chars = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
  let id = 0n;
  for (const c of name) id = (id << 6n) | BigInt(chars.indexOf(c));
  return (id << 10n) | BigInt(encodingVersion);
}

/** A listpack of strings (6-bit length encoding only: elements under 64 bytes). */
export function listpackOf(items: string[]): Buffer {
  const parts: Buffer[] = [];
  for (const s of items) {
    const b = Buffer.from(s);
    if (b.length >= 63) throw new Error('listpackOf: short strings only');
    parts.push(Buffer.from([0x80 | b.length]), b, Buffer.from([1 + b.length]));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(6);
  head.writeUInt32LE(6 + body.length + 1);
  head.writeUInt16LE(items.length, 4);
  return Buffer.concat([head, body, Buffer.from([0xff])]);
}
