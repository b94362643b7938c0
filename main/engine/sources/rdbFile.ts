import fs from 'node:fs';
import { Crc64, RdbError, readRdb, type RdbItem, type RdbReadOptions } from '../rdb/index.js';
import type { Job } from '../../../shared/job.js';

/** An RDB file named by a job's source (`rdb:`), checked before anything is written. */
export interface RdbSourceFile {
  /** The source's name in the job. */
  name: string;
  /** Absolute path (loadJob resolved it against the job file). */
  path: string;
  size: number;
  mtimeMs: number;
  /** From the file's header. */
  rdbVersion: number;
  /** The RDB comes from this stream instead of the file at `path` (a replication full sync). */
  stream?: AsyncIterable<Buffer>;
  /** How messages name it, instead of `source NAME (RDB file PATH)`. */
  label?: string;
}

/** How a source file is labelled in messages: `source dumps (RDB file /x/dump.rdb)`. */
export function fileLabel(file: Pick<RdbSourceFile, 'name' | 'path' | 'label'>): string {
  return file.label ?? `source ${file.name} (RDB file ${file.path})`;
}

/**
 * Opens the file, makes sure it is a regular file and starts like an RDB file ("REDIS" + a known
 * version), and closes it again: a missing, unreadable or wrong file is refused by name and with
 * the OS's reason before the run writes anything.
 */
export async function checkRdbFile(name: string, path: string): Promise<RdbSourceFile> {
  const fail = (why: string) => new Error(`source ${name}: cannot read the RDB file ${path}: ${why}`);
  let handle: fs.promises.FileHandle;
  try {
    handle = await fs.promises.open(path, 'r');
  } catch (err) {
    throw fail(osReason(err));
  }
  try {
    const stat = await handle.stat();
    if (stat.isDirectory()) throw fail('it is a directory, not a file');
    if (!stat.isFile()) throw fail('it is not a regular file');
    const head = Buffer.alloc(9);
    let got: number;
    try {
      ({ bytesRead: got } = await handle.read(head, 0, 9, 0));
    } catch (err) {
      throw fail(osReason(err));
    }
    // The parser's own header check, so the message is the same as when a run reads it.
    let version = 0;
    try {
      for await (const item of readRdb(once(head.subarray(0, got)), { stopAtEnd: true })) {
        if (item.kind === 'header') version = item.version;
        break;
      }
    } catch (err) {
      if (!(err instanceof RdbError)) throw err;
      throw fail(err.code === 'truncated' ? `it is only ${stat.size} bytes long, too short for an RDB file` : err.message);
    }
    if (version === 0) throw fail(`it is only ${stat.size} bytes long, too short for an RDB file`);
    return { name, path, size: stat.size, mtimeMs: stat.mtimeMs, rdbVersion: version };
  } finally {
    await handle.close();
  }
}

/** The files of a job's rdb sources, checked together (every problem reported at once). */
export async function checkRdbFiles(job: Job): Promise<{ files: Map<string, RdbSourceFile>; failures: string[] }> {
  const rdbSources = job.sources.filter((s) => s.rdb !== undefined);
  const attempts = await Promise.allSettled(rdbSources.map((s) => checkRdbFile(s.name, s.rdb!)));
  const files = new Map<string, RdbSourceFile>();
  const failures: string[] = [];
  attempts.forEach((a, i) => {
    if (a.status === 'fulfilled') files.set(rdbSources[i].name, a.value);
    else failures.push((a.reason as Error).message);
  });
  return { files, failures };
}

/**
 * The file's items, read as a stream (1 MB reads), for a run or a verify. Strings longer than
 * `chunkBytes` come in chunks (see readRdb).
 */
export function readRdbFile(file: RdbSourceFile, opts: RdbReadOptions): AsyncGenerator<RdbItem> {
  return readRdb(file.stream ?? fs.createReadStream(file.path, { highWaterMark: 1 << 20 }), opts);
}

/**
 * The string size above which a file's strings come in chunks (and are written or compared
 * without being held): the job's bigKey.bytes, kept between 64 KB and 64 MB.
 */
export function chunkBytesFor(job: Job): number {
  return Math.max(64 << 10, Math.min(job.options.bigKey.bytes - 1, 64 << 20));
}

/**
 * A DUMP payload from a key's stored bytes (`raw`: type byte + value, see readRdb rawValues): the
 * file's RDB version (u16 LE) and the CRC-64 of all before it (u64 LE), as DUMP would give them.
 */
export function dumpPayloadOf(raw: Buffer, rdbVersion: number): Buffer {
  const payload = Buffer.allocUnsafe(raw.length + 10);
  raw.copy(payload, 0);
  payload.writeUInt16LE(rdbVersion, raw.length);
  const crc = new Crc64().update(payload.subarray(0, raw.length + 2)).value;
  payload.writeBigUInt64LE(crc, raw.length + 2);
  return payload;
}

/**
 * An error while reading the file, for the user: which file, where and what (RdbError), and (for a
 * run: `written`) what it means for the keys already written. Other errors pass through.
 */
export function fileReadError(file: RdbSourceFile, err: unknown, written?: { keys: number; wrote: boolean }): Error {
  if (err instanceof RdbError) {
    if (err.code === 'checksum') {
      return new Error(
        `${fileLabel(file)}: the file is corrupt: ${err.message}` +
          (!written
            ? ''
            : written.wrote
            ? `. The ${written.keys.toLocaleString('en-US')} key(s) read from it before its end were written to the target, and they came from a corrupt file: check them, or delete them, and copy again from a good file`
            : '. Nothing was written from it'),
      );
    }
    const what = err.code === 'unsupported' ? 'has data Ferry cannot read' : err.code === 'limit' ? 'has a record over a limit' : 'is damaged';
    return new Error(
      `${fileLabel(file)}: the file ${what}: ${err.message}` +
        (!written
          ? ''
          : written.wrote
            ? `. The ${written.keys.toLocaleString('en-US')} key(s) before offset ${err.offset} were read and written to the target; nothing from that record on was`
            : '. Nothing was written from it'),
    );
  }
  // An OS error reading the file (not a Redis reply, which has a code too).
  const e = err as NodeJS.ErrnoException;
  if (typeof e?.syscall === 'string') return new Error(`${fileLabel(file)}: cannot read the file: ${osReason(err)}`);
  return err instanceof Error ? err : new Error(String(err));
}

async function* once(bytes: Buffer): AsyncGenerator<Buffer> {
  yield bytes;
}

/** "ENOENT: no such file or directory, open '/x'" -> "no such file or directory (ENOENT)". */
export function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = String(e?.message ?? err)
    .replace(/^[A-Z]+: /, '')
    .replace(/, \w+ '.*'$/, '');
  return e?.code ? `${text} (${e.code})` : text;
}
