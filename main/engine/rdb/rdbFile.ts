import { type ByteReader, ParseContext, readLimits, type ReadLimits } from './byteReader.js';
import { InputBuffer } from './inputBuffer.js';
import { LzfStreamDecoder } from './lzf.js';
import { readLength } from './encodings/rdbLength.js';
import { readString, readStringBody, readStringHead, type StringHead } from './encodings/rdbString.js';
import { asRdbError, NeedMore, RdbError } from './rdbErrors.js';
import { isKnownType, MAX_RDB_VERSION, RdbType, type ParsedValue } from './rdbTypes.js';
import { printableBytes } from '../values/logicalValue.js';
import { decodeValue } from './values/decodeValue.js';
import { readModuleId, skipModuleFields } from './values/modules.js';

/**
 * Streaming reader of RDB files (rdb.c rdbLoad): "REDIS" + 4-digit version, then opcodes and keys,
 * then 0xFF and (version 5+) the CRC-64 of everything before it, little-endian (0 = not computed).
 *
 * Memory: the input is pulled chunk by chunk and consumed bytes are dropped, so what is held is
 * one record (one opcode, or one key with its whole value) plus the current chunk. Collections are
 * materialised one key at a time (a 1 GB hash is held whole, as its parsed value); strings longer
 * than `chunkBytes` are not: see the `key-start` item.
 */

export interface RdbReadOptions {
  /**
   * Strings longer than this (after decompression) come as a `key-start` item followed by
   * `key-chunk` items of at most this many bytes, instead of one `key` item. Default 8 MB.
   */
  chunkBytes?: number;
  /**
   * The most input bytes one record may need buffered at once (a key with its value, unless it is
   * a string streamed in chunks). A corrupt length cannot make the reader buffer more. Default 1 GB.
   */
  maxRecordBytes?: number;
  /** The most bytes decompressed strings of one key may add up to. Default 512 MB. */
  maxValueBytes?: number;
  /** Throw on a CRC-64 mismatch (default true); when false, the `end` item says checksumOk: false. */
  verifyChecksum?: boolean;
  /**
   * Stop at the end of the RDB data without looking further (for a stream that goes on, e.g. a
   * replication link): the `end` item then carries the bytes already read beyond it in `rest`,
   * and the source is left open. By default anything after the end is an error.
   */
  stopAtEnd?: boolean;
  /**
   * Give every `key` item `raw`: its type byte and its value's bytes exactly as stored in the file
   * (a DUMP payload without the 10-byte footer), next to the parsed value. Default false.
   */
  rawValues?: boolean;
}

/** Where a key was: db, name, type byte, and what preceded it in the file. */
export interface KeyInfo {
  db: number;
  key: Buffer;
  /** The RDB type byte. */
  type: number;
  /** Absolute expire time in Unix ms, or null. */
  expireAtMs: number | null;
  /** LRU idle time in seconds (opcode 0xF8), when the file has it. */
  idleSeconds?: number;
  /** LFU frequency counter (opcode 0xF9), when the file has it. */
  lfuFreq?: number;
  /** Input offset of the key's first byte (its type byte). */
  offset: number;
}

export type RdbItem =
  | { kind: 'header'; version: number; offset: number }
  | { kind: 'aux'; key: string; value: Buffer; offset: number }
  | { kind: 'db'; db: number; offset: number }
  | { kind: 'resize'; dbSize: number; expiresSize: number; offset: number }
  | { kind: 'slot-info'; slot: number; size: number; expiresSize: number; offset: number }
  /** A function library (7.0+): its source code, whose first line names engine and library. */
  | { kind: 'function'; code: Buffer; engine: string | null; library: string | null; offset: number }
  /** Module aux data (skipped: only which module and when it is loaded). */
  | { kind: 'module-aux'; moduleName: string; moduleId: bigint; encodingVersion: number; when: number; offset: number }
  /** `raw` (with `rawValues` only): the type byte + the value's bytes as stored; a copy. */
  | ({ kind: 'key'; value: ParsedValue; raw?: Buffer } & KeyInfo)
  /**
   * A string key too big to hold (over `chunkBytes`): `length` bytes follow as `key-chunk` items,
   * in order, the last with `last: true`. A writer can pass them on (e.g. SETRANGE/APPEND) as they
   * come; the reader does not go on until the consumer asks for the next item.
   */
  | ({ kind: 'key-start'; length: number } & KeyInfo)
  | { kind: 'key-chunk'; data: Buffer; last: boolean }
  /** checksumOk: true when checked, null when the file has none (version < 5) or it is 0 (disabled). */
  | { kind: 'end'; checksumOk: boolean | null; offset: number; rest?: Buffer };

const OP_SLOT_INFO = 0xf4;
const OP_FUNCTION2 = 0xf5;
const OP_FUNCTION_PRE_GA = 0xf6;
const OP_MODULE_AUX = 0xf7;
const OP_IDLE = 0xf8;
const OP_FREQ = 0xf9;
const OP_AUX = 0xfa;
const OP_RESIZEDB = 0xfb;
const OP_EXPIRETIME_MS = 0xfc;
const OP_EXPIRETIME = 0xfd;
const OP_SELECTDB = 0xfe;
const OP_EOF = 0xff;

/** What one record is, after it has been parsed from the buffer. */
type Step =
  | { t: 'item'; item: RdbItem }
  | { t: 'expire'; atMs: number }
  | { t: 'idle'; seconds: number }
  | { t: 'freq'; freq: number }
  | { t: 'big'; info: KeyInfo; head: StringHead & { form: 'raw' | 'lzf' }; bodyOffset: number }
  | { t: 'eof' };

interface Settings {
  chunkBytes: number;
  rawValues: boolean;
  maxRecordBytes: number;
  limits: ReadLimits;
}

/** Reads an RDB file from a stream of chunks; see RdbItem for what comes out, in file order. */
export async function* readRdb(input: AsyncIterable<Buffer | Uint8Array | string> | NodeJS.ReadableStream, opts: RdbReadOptions = {}): AsyncGenerator<RdbItem> {
  const settings: Settings = {
    chunkBytes: positive(opts.chunkBytes ?? 8 * 1024 * 1024, 'chunkBytes'),
    rawValues: opts.rawValues ?? false,
    maxRecordBytes: positive(opts.maxRecordBytes ?? 1024 * 1024 * 1024, 'maxRecordBytes'),
    limits: readLimits(opts),
  };
  const source = (input as AsyncIterable<unknown>)[Symbol.asyncIterator]();
  const src = new InputBuffer(source);
  let leaveOpen = false;
  try {
    const version = await parseRecord(src, settings, readHeader);
    yield { kind: 'header', version, offset: 0 };
    let db = 0;
    let expireAtMs: number | null = null;
    let idleSeconds: number | undefined;
    let lfuFreq: number | undefined;
    for (;;) {
      const step = await parseRecord(src, settings, (r) => readStep(r, settings, db));
      switch (step.t) {
        case 'expire':
          expireAtMs = step.atMs;
          continue;
        case 'idle':
          idleSeconds = step.seconds;
          continue;
        case 'freq':
          lfuFreq = step.freq;
          continue;
        case 'item':
        case 'big': {
          const item = step.t === 'item' ? step.item : { kind: 'key-start' as const, ...step.info, length: step.head.length };
          if (item.kind === 'db') db = item.db;
          if (item.kind === 'key' || item.kind === 'key-start') {
            item.expireAtMs = expireAtMs;
            if (idleSeconds !== undefined) item.idleSeconds = idleSeconds;
            if (lfuFreq !== undefined) item.lfuFreq = lfuFreq;
            expireAtMs = null;
            idleSeconds = lfuFreq = undefined;
          }
          yield item;
          if (step.t === 'big') yield* streamString(src, settings, step);
          continue;
        }
        case 'eof':
      }
      break;
    }
    const endAt = src.offset - 1;
    const checksumOk = version >= 5 ? await parseRecord(src, settings, (r) => readChecksum(r, src, opts.verifyChecksum ?? true)) : null;
    if (opts.stopAtEnd) {
      leaveOpen = true;
      yield { kind: 'end', checksumOk, offset: endAt, rest: src.rest() };
      return;
    }
    await src.fill(1);
    if (src.available > 0) throw new RdbError(src.offset, 'unexpected data after the end of the RDB file');
    leaveOpen = true;
    yield { kind: 'end', checksumOk, offset: endAt };
  } finally {
    // Stopped early (error, or the consumer broke off): release the source (closes a file stream).
    if (!leaveOpen) await source.return?.();
  }
}

/**
 * Parses one record from the buffered bytes; when they run out, fetches more and parses again from
 * the record's start (exactly what was missing the first time, then doubling, so a big record is
 * re-parsed only a logarithmic number of times).
 */
async function parseRecord<T>(src: InputBuffer, settings: Settings, parse: (r: ByteReader) => T): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    const ctx = new ParseContext(settings.limits);
    const r = src.reader(ctx);
    const start = r.pos;
    try {
      const result = parse(r);
      src.consume(r.pos - start);
      return result;
    } catch (e) {
      if (!(e instanceof NeedMore)) throw asRdbError(e, src.offset);
      const need = e.upTo - src.offset;
      if (need > settings.maxRecordBytes) {
        const reason = `reading ${e.what} needs ${e.upTo - e.at} bytes, which would make the record ${need} bytes, more than maxRecordBytes (${settings.maxRecordBytes})${ctx.where()}: a corrupt length, or a key too big for the limit`;
        throw new RdbError(e.at, reason, 'limit');
      }
      await src.fill(attempt === 0 ? need : Math.min(Math.max(need, 2 * src.available), settings.maxRecordBytes));
    }
  }
}

const MAGIC = Buffer.from('REDIS');

function readHeader(r: ByteReader): number {
  const head = r.view(9, 'the file header ("REDIS" and a 4-digit version)');
  if (!head.subarray(0, 5).equals(MAGIC)) r.fail(`not an RDB file: it starts with ${JSON.stringify(head.subarray(0, 5).toString('latin1'))}, not "REDIS"`, 'corrupt', 0);
  const digits = head.subarray(5).toString('latin1');
  if (!/^\d{4}$/.test(digits)) r.fail(`invalid RDB version ${JSON.stringify(digits)}`, 'corrupt', 5);
  const version = Number(digits);
  if (version < 1 || version > MAX_RDB_VERSION) r.fail(`RDB version ${version} is not supported (this parser reads versions 1 to ${MAX_RDB_VERSION})`, 'unsupported', 5);
  return version;
}

function readStep(r: ByteReader, settings: Settings, db: number): Step {
  const at = r.pos;
  const offset = r.offset;
  const op = r.u8('the next opcode or value type');
  switch (op) {
    case OP_EOF:
      return { t: 'eof' };
    case OP_SELECTDB:
      return { t: 'item', item: { kind: 'db', db: readLength(r, 'database number'), offset } };
    case OP_EXPIRETIME:
      // Seconds, signed 32-bit (Redis 2.4 and older).
      return { t: 'expire', atMs: r.i32le('expire time (s)') * 1000 };
    case OP_EXPIRETIME_MS:
      return { t: 'expire', atMs: r.timeMs('expire time (ms)') };
    case OP_RESIZEDB: {
      const dbSize = readLength(r, 'resize-db size');
      const expiresSize = readLength(r, 'resize-db expires size');
      return { t: 'item', item: { kind: 'resize', dbSize, expiresSize, offset } };
    }
    case OP_AUX: {
      const key = readString(r, 'aux field name').toString('utf8');
      const value = readString(r, 'aux field value');
      return { t: 'item', item: { kind: 'aux', key, value, offset } };
    }
    case OP_FREQ:
      return { t: 'freq', freq: r.u8('LFU frequency') };
    case OP_IDLE:
      return { t: 'idle', seconds: readLength(r, 'LRU idle time') };
    case OP_MODULE_AUX: {
      const m = readModuleId(r, 'module aux module ID');
      const whenAt = r.pos;
      if (readLength(r, 'module aux "when" opcode') !== 2) r.fail('module aux "when" is not an unsigned integer field', 'corrupt', whenAt);
      const when = readLength(r, 'module aux "when"');
      skipModuleFields(r, `module aux data of "${m.name}"`);
      return { t: 'item', item: { kind: 'module-aux', moduleName: m.name, moduleId: m.id, encodingVersion: m.encodingVersion, when, offset } };
    }
    case OP_FUNCTION2: {
      const code = readString(r, 'function library code');
      const shebang = /^#!(\S+)(?:[ \t]+[^\n]*?\bname=(\S+))?/.exec(code.subarray(0, 1024).toString('utf8'));
      return { t: 'item', item: { kind: 'function', code, engine: shebang?.[1] ?? null, library: shebang?.[2] ?? null, offset } };
    }
    case OP_FUNCTION_PRE_GA:
      return r.fail('opcode 0xf6 (function library in the Redis 7.0 release-candidate format) is not supported; Redis 7.0 and later refuse it too', 'unsupported', at);
    case OP_SLOT_INFO: {
      const slot = readLength(r, 'slot info slot');
      const size = readLength(r, 'slot info size');
      const expiresSize = readLength(r, 'slot info expires size');
      return { t: 'item', item: { kind: 'slot-info', slot, size, expiresSize, offset } };
    }
  }
  if (op >= 0xf0) return r.fail(`unknown opcode 0x${op.toString(16)}`, 'corrupt', at);
  if (!isKnownType(op)) return r.fail(`unknown value type ${op}`, 'corrupt', at);

  const key = readString(r, 'key name');
  r.ctx.key = key;
  const info: KeyInfo = { db, key, type: op, expireAtMs: null, offset };
  const valueAt = r.pos;
  let value: ParsedValue;
  if (op !== RdbType.STRING) value = decodeValue(r, op, at);
  else {
    const head = readStringHead(r, 'string value');
    if (head.form !== 'int' && head.length > settings.chunkBytes) return { t: 'big', info, head, bodyOffset: r.offset };
    value = { type: 'string', value: readStringBody(r, head, 'string value') };
  }
  if (!settings.rawValues) return { t: 'item', item: { kind: 'key', ...info, value } };
  return { t: 'item', item: { kind: 'key', ...info, value, raw: rawValue(r.buf, op, valueAt, r.pos) } };
}

/** The type byte followed by the value's stored bytes `buf[from, to)`, in a buffer of its own. */
function rawValue(buf: Buffer, type: number, from: number, to: number): Buffer {
  const raw = Buffer.allocUnsafe(1 + to - from);
  raw[0] = type;
  buf.copy(raw, 1, from, to);
  return raw;
}

/** The bytes of a big string as key-chunk items, decompressed on the fly when stored with LZF. */
async function* streamString(src: InputBuffer, settings: Settings, step: Extract<Step, { t: 'big' }>): AsyncGenerator<RdbItem> {
  const { head, bodyOffset, info } = step;
  const pieceBytes = settings.chunkBytes;
  // One piece is held back so that the last one can say so.
  let held: Buffer | null = null;
  if (head.form === 'raw') {
    for await (const piece of src.pipe(head.length, pieceBytes, 'a string value')) {
      if (held) yield { kind: 'key-chunk', data: held, last: false };
      held = piece;
    }
  } else {
    const where = ` (in key ${printableBytes(info.key)})`;
    const decoder = new LzfStreamDecoder(head.length, head.compressedLength, pieceBytes, (p, reason) => {
      throw new RdbError(bodyOffset + p, `string value: invalid LZF data: ${reason}${where}`);
    });
    for await (const input of src.pipe(head.compressedLength, pieceBytes, 'LZF-compressed string value')) {
      for (const piece of guarded(() => decoder.push(input), src.offset)) {
        if (held) yield { kind: 'key-chunk', data: held, last: false };
        held = piece;
      }
    }
    for (const piece of guarded(() => decoder.end(), src.offset)) {
      if (held) yield { kind: 'key-chunk', data: held, last: false };
      held = piece;
    }
  }
  yield { kind: 'key-chunk', data: held ?? Buffer.alloc(0), last: true };
}

/** Runs decoding code; anything but an RdbError thrown there is a parser bug (see asRdbError). */
function guarded<T>(run: () => T, offset: number): T {
  try {
    return run();
  } catch (e) {
    throw asRdbError(e, offset);
  }
}

function readChecksum(r: ByteReader, src: InputBuffer, verify: boolean): boolean | null {
  const at = r.pos;
  const stored = r.view(8, 'the CRC-64 checksum');
  if (stored.every((b) => b === 0)) return null;
  if (src.crc.matches(stored)) return true;
  if (!verify) return false;
  const computed = Buffer.alloc(8);
  computed.writeBigUInt64LE(src.crc.value);
  return r.fail(`the data's CRC-64 is ${computed.toString('hex')} but the file ends with ${stored.toString('hex')} (both as stored: little-endian)`, 'checksum', at);
}

function positive(n: number, name: string): number {
  if (!Number.isSafeInteger(n) || n < 1) throw new RangeError(`readRdb: ${name} must be a positive integer, got ${n}`);
  return n;
}
