import { valueSize } from '../../values/logicalValue.js';
import { Crc64 } from '../crc64.js';
import type { ParsedHash } from '../rdbTypes.js';
import { ByteWriter } from './byteWriter.js';
import { RdbEncodeError } from './encodeError.js';
import { canHoldLosslessly, cannotWrite, type EncodableValue } from './lossless.js';
import { writeString } from './string.js';
import { writeHash } from './values/hashes.js';
import { writeList } from './values/lists.js';
import { writeSet } from './values/sets.js';
import { writeStream } from './values/streams.js';
import { writeZset } from './values/zsets.js';

export interface EncodeOptions {
  /**
   * Write what the version can hold and leave out the rest (field TTLs, 7.0+ stream counters)
   * instead of throwing. Streams below RDB 9 still throw: there is nothing to write them as.
   */
  allowLoss?: boolean;
  /** Stream PEL delivery and consumer seen times for values that carry none (LogicalValue); default now. */
  nowMs?: number;
}

/**
 * A DUMP payload of `value` for RDB version `rdbVersion` (6 to 12): type byte, value in the most
 * compact encoding that version's Redis would pick under default config, RDB version (u16 LE),
 * CRC-64 (u64 LE) of all before it. Throws RdbEncodeError when the version cannot hold the value
 * losslessly (see canHoldLosslessly) unless `allowLoss`.
 */
export function encodeDumpPayload(value: EncodableValue, rdbVersion: number, opts: EncodeOptions = {}): Buffer {
  const unwritable = cannotWrite(value, rdbVersion);
  if (unwritable) throw new RdbEncodeError(`cannot encode a ${value.type} for RDB ${rdbVersion}: ${unwritable}`);
  if (!opts.allowLoss) {
    const verdict = canHoldLosslessly(value, rdbVersion);
    if (!verdict.ok) throw new RdbEncodeError(`cannot encode this ${value.type} for RDB ${rdbVersion} losslessly: ${verdict.reason}`);
  }
  const w = new ByteWriter(Math.floor(valueSize(value) * 1.1) + 64);
  writeValue(w, value, rdbVersion, opts.nowMs ?? Date.now());
  w.u16le(rdbVersion);
  w.u64le(new Crc64().update(w.result()).value);
  return w.finish();
}

function writeValue(w: ByteWriter, value: EncodableValue, rdbVersion: number, nowMs: number): void {
  switch (value.type) {
    case 'string':
      w.u8(0);
      return writeString(w, value.value);
    case 'list':
      return writeList(w, value.items, rdbVersion);
    case 'set':
      return writeSet(w, value.members, rdbVersion);
    case 'zset':
      return writeZset(w, value.members, rdbVersion);
    case 'hash': {
      const ttls = (value as ParsedHash).fieldExpiresMs;
      const expires = ttls && ttls.length > 0 ? new Map(ttls.map(([f, at]) => [f.toString('latin1'), at])) : null;
      return writeHash(w, value.fields, expires, rdbVersion);
    }
    case 'stream':
      return writeStream(w, value.stream, rdbVersion, nowMs);
  }
}
