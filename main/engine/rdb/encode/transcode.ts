import { crc64 } from '../crc64.js';
import { parseDumpPayload } from '../dumpPayload.js';
import { MAX_RDB_VERSION } from '../rdbTypes.js';
import { encodeDumpPayload } from './dumpPayload.js';
import { canHoldLosslessly } from './lossless.js';
import { TYPE_SINCE } from './thresholds.js';

/** How a payload was made fit for an RDB version. */
export type Transcoded =
  | {
      ok: true;
      payload: Buffer;
      /** as-is: already old enough; refooted: same bytes, new footer; re-encoded: parsed and written anew. */
      how: 'as-is' | 'refooted' | 're-encoded';
      note?: string;
    }
  | { ok: false; reason: string };

const FOOTER = 10;

/**
 * Makes a DUMP payload fit for a server of RDB version `rdbVersion` without losing anything, as
 * cheaply as possible: a payload of that version or older is returned as it is; one whose type
 * byte the version already reads (the layout of a type never changes) only gets a new footer;
 * anything else is parsed and encoded for the version when canHoldLosslessly allows, else refused.
 */
export function transcodeDumpPayload(payload: Buffer, rdbVersion: number): Transcoded {
  if (payload.length <= FOOTER) return { ok: false, reason: `a DUMP payload of ${payload.length} bytes is too short` };
  const from = payload.readUInt16LE(payload.length - FOOTER);
  if (from <= rdbVersion) return { ok: true, payload, how: 'as-is' };
  // A newer format than the parser knows may have changed what it shares with the old ones.
  if (from > MAX_RDB_VERSION) return { ok: false, reason: `its RDB version ${from} is newer than the newest Ferry knows (${MAX_RDB_VERSION})` };
  const since = TYPE_SINCE.get(payload[0]);
  if (since !== undefined && since <= rdbVersion) return { ok: true, payload: refooted(payload, rdbVersion), how: 'refooted' };
  let parsed;
  try {
    parsed = parseDumpPayload(payload);
  } catch (err) {
    return { ok: false, reason: `the payload cannot be read: ${(err as Error).message}` };
  }
  const verdict = canHoldLosslessly(parsed.value, rdbVersion);
  if (!verdict.ok) return verdict;
  const out = encodeDumpPayload(parsed.value, rdbVersion);
  return verdict.note ? { ok: true, payload: out, how: 're-encoded', note: verdict.note } : { ok: true, payload: out, how: 're-encoded' };
}

/**
 * The payload with RDB version `rdbVersion` in its footer. The CRC is patched, not recomputed: with
 * Redis's CRC-64 (zero start, no final xor) CRC(a ^ b) = CRC(a) ^ CRC(b) for inputs of one length,
 * and leading zero bytes leave it 0, so changing the two version bytes by d changes the CRC by
 * CRC(d). A payload that arrived corrupt keeps a wrong CRC, and the target still refuses it.
 */
export function refooted(payload: Buffer, rdbVersion: number): Buffer {
  const out = Buffer.from(payload);
  const at = out.length - FOOTER;
  const d = out.readUInt16LE(at) ^ rdbVersion;
  out.writeUInt16LE(rdbVersion, at);
  out.writeBigUInt64LE(out.readBigUInt64LE(at + 2) ^ crc64(Buffer.from([d & 0xff, d >>> 8])), at + 2);
  return out;
}
