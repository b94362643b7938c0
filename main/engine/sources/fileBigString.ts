import type { Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import { StreamedSet, StreamedSetLost } from '../bigkeys/streamedSet.js';
import { TRASH_TAG } from '../bigkeys/chunkedCopy.js';
import { sameSlotName } from '../keys/hashSlot.js';
import type { Arg } from '../resp/commandEncoder.js';
import { ReplyError, replyArray, replyNumber, replyText, type Reply } from '../resp/reply.js';
import { printableBytes } from '../values/logicalValue.js';
import { asBuffer, keyCommand } from '../values/readValue.js';
import { SAFETY_RENEW_MS, SAFETY_TTL_MS, TEMP_TAG } from '../values/writeValue.js';

/** GETRANGE / SETRANGE windows: about a millisecond of server time each. */
const WINDOW = 1 << 20;
/** Windows of one chunk in flight at once while comparing. */
const COMPARE_DEPTH = 8;

export interface FileStringOptions {
  target: Endpoint;
  targetDb: number;
  key: Buffer;
  /** The string's length; `chunks` give exactly this many bytes, in order. */
  length: number;
  chunks: AsyncIterable<Buffer>;
  /** Absolute expiry in Unix ms on the TARGET's clock; 0 = none. */
  expireAt: number;
  onConflict: 'fail' | 'skip' | 'replace';
  /** Bytes written so far, of `length`. */
  onProgress?(done: number, total: number): void;
}

/** `same` / `different`: the key was on the target already (and is left as it was). */
export type FileStringOutcome = 'written' | 'same' | 'different' | 'expired';

/**
 * Writes a string that comes from an RDB file in chunks (too big to hold) without ever holding it
 * whole and without a huge command: the chunks stream as the value of one `SET temp … PX` on a
 * connection of its own (bigkeys/streamedSet: the target reads it as it arrives, nothing blocks), or,
 * when that connection cannot be had, into a temp key preallocated by SETRANGE, a window at a time.
 * The temp key is in the key's slot and has a safety TTL until it gets the real one; then it appears
 * at once by RENAMENX (fail / skip) or RENAME (replace: the old value is moved aside in the same
 * transaction and freed by UNLINK). A key already on the target (fail / skip) is compared with the
 * chunks as they come, by GETRANGE windows, and left alone.
 *
 * The caller must drain what is left of `chunks` after this returns or throws: a chunk that cannot
 * be read again is never needed again.
 */
export async function writeStringFromChunks(o: FileStringOptions): Promise<FileStringOutcome> {
  const { target, targetDb, key } = o;
  const cmd = (args: readonly Arg[]) => keyCommand(target, targetDb, key, args);
  const unlink = atLeast(target.facts, 4, 0) ? 'UNLINK' : 'DEL';
  const absentOnly = o.onConflict !== 'replace';
  if (absentOnly && replyNumber(await cmd(['EXISTS', key])) > 0) {
    return (await compareStringWithChunks(target, targetDb, key, o.length, o.chunks)).equal ? 'same' : 'different';
  }
  const temp = sameSlotName(key, TEMP_TAG);
  await cmd([unlink, temp]);
  try {
    await build(o, temp, cmd);
    const ttl = await cmd(o.expireAt > 0 ? ['PEXPIREAT', temp, o.expireAt] : ['PERSIST', temp]);
    if (o.expireAt > 0 && ttl !== 1) throw new Error(`${target.label}: the temporary key ${printableBytes(temp)} disappeared while Ferry was writing it`);
  } catch (err) {
    await cmd([unlink, temp]).catch(() => undefined);
    throw err;
  }
  try {
    if (absentOnly) {
      if (replyNumber(await cmd(['RENAMENX', temp, key])) === 1) return 'written';
      // The key appeared meanwhile: the same bytes or not, it stays as it is.
      const equal = await sameStrings(target, targetDb, key, temp);
      await cmd([unlink, temp]);
      return equal ? 'same' : 'different';
    }
    if (replyNumber(await cmd(['EXISTS', key])) === 0) {
      await cmd(['RENAME', temp, key]);
      return 'written';
    }
    const trash = sameSlotName(key, TRASH_TAG);
    await cmd([unlink, trash]);
    const [, , , exec] = await Promise.all([cmd(['MULTI']), cmd(['RENAME', key, trash]), cmd(['RENAME', temp, key]), cmd(['EXEC'])]);
    const [movedAside, renamed] = replyArray(exec);
    if (renamed instanceof ReplyError) throw renamed;
    if (!(movedAside instanceof ReplyError)) await cmd([unlink, trash]);
    return 'written';
  } catch (err) {
    // The finished temp key can only vanish by an expiry that fell due between PEXPIREAT and RENAME.
    if (o.expireAt > 0 && err instanceof ReplyError && /no such key/i.test(err.message)) return 'expired';
    await cmd([unlink, temp]).catch(() => undefined);
    throw err;
  }
}

/** Builds the temp key from the chunks, with its safety TTL. */
async function build(o: FileStringOptions, temp: Buffer, cmd: (args: readonly Arg[]) => Promise<Reply>): Promise<void> {
  if (o.length === 0) {
    for await (const chunk of o.chunks) if (chunk.length > 0) throw new Error('a string of 0 bytes came with data');
    await cmd(['SET', temp, '', 'PX', SAFETY_TTL_MS]);
    return;
  }
  let set: StreamedSet | null = null;
  try {
    set = await StreamedSet.open(o.target, o.targetDb, temp);
  } catch (err) {
    // No connection of its own (a proxy, a client limit): SETRANGE windows on the shared one.
    if (!(err instanceof StreamedSetLost)) throw err;
  }
  let done = 0;
  if (set) {
    try {
      set.begin(temp, o.length);
      for await (const chunk of o.chunks) {
        for (let at = 0; at < chunk.length; at += WINDOW) await set.write(chunk.subarray(at, at + WINDOW));
        done += chunk.length;
        o.onProgress?.(done, o.length);
      }
      await set.finish(SAFETY_TTL_MS);
    } finally {
      set.destroy();
    }
    return;
  }
  // One allocation of the final size (zero-filled), then windows: no reallocation, so no copy.
  await cmd(['SETRANGE', temp, o.length - 1, Buffer.from([0])]);
  await cmd(['PEXPIRE', temp, SAFETY_TTL_MS]);
  let renewedAt = Date.now();
  for await (const chunk of o.chunks) {
    for (let at = 0; at < chunk.length; at += WINDOW) await cmd(['SETRANGE', temp, done + at, chunk.subarray(at, at + WINDOW)]);
    done += chunk.length;
    o.onProgress?.(done, o.length);
    if (Date.now() - renewedAt > SAFETY_RENEW_MS) {
      if ((await cmd(['PEXPIRE', temp, SAFETY_TTL_MS])) !== 1) throw new Error(`${o.target.label}: the temporary key ${printableBytes(temp)} disappeared while Ferry was writing it`);
      renewedAt = Date.now();
    }
  }
  if (done !== o.length) throw new Error(`a string of ${o.length} bytes came with ${done}`);
}

/**
 * Compares the string `key` on the target with the bytes the chunks give (`length` of them), by
 * GETRANGE windows, as the chunks come. The caller drains the chunks left after an early answer.
 */
export async function compareStringWithChunks(target: Endpoint, db: number, key: Buffer, length: number, chunks: AsyncIterable<Buffer>): Promise<{ equal: boolean; detail: string }> {
  const cmd = (args: readonly Arg[]) => keyCommand(target, db, key, args);
  const type = replyText(await cmd(['TYPE', key]));
  if (type === 'none') return { equal: false, detail: 'not on the target' };
  if (type !== 'string') return { equal: false, detail: `type differs: string vs ${type}` };
  const targetLength = replyNumber(await cmd(['STRLEN', key]));
  if (targetLength !== length) return { equal: false, detail: `string differs: ${length} vs ${targetLength} bytes` };
  let done = 0;
  for await (const chunk of chunks) {
    for (let at = 0; at < chunk.length; at += WINDOW * COMPARE_DEPTH) {
      const windows: Array<Promise<Reply>> = [];
      for (let w = at; w < Math.min(chunk.length, at + WINDOW * COMPARE_DEPTH); w += WINDOW) {
        windows.push(cmd(['GETRANGE', key, done + w, done + Math.min(chunk.length, w + WINDOW) - 1]));
      }
      const parts = (await Promise.all(windows)).map(asBuffer);
      let w = at;
      for (const part of parts) {
        const expected = chunk.subarray(w, Math.min(chunk.length, w + WINDOW));
        if (!part.equals(expected)) return { equal: false, detail: `string differs in the ${expected.length} bytes from byte ${done + w} of ${length}` };
        w += WINDOW;
      }
    }
    done += chunk.length;
  }
  return { equal: true, detail: 'the values are equal' };
}

/** Whether two strings on the target (same slot) hold the same bytes, window by window. */
async function sameStrings(target: Endpoint, db: number, a: Buffer, b: Buffer): Promise<boolean> {
  const cmd = (args: readonly Arg[]) => keyCommand(target, db, a, args);
  if (replyText(await cmd(['TYPE', a])) !== 'string') return false;
  const [la, lb] = (await Promise.all([cmd(['STRLEN', a]), cmd(['STRLEN', b])])).map(replyNumber);
  if (la !== lb) return false;
  for (let at = 0; at < la; at += WINDOW) {
    const [pa, pb] = (await Promise.all([cmd(['GETRANGE', a, at, at + WINDOW - 1]), cmd(['GETRANGE', b, at, at + WINDOW - 1])])).map(asBuffer);
    if (!pa.equals(pb)) return false;
  }
  return true;
}
