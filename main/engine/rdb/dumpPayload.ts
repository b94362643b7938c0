import { ByteReader, ParseContext, readLimits } from './byteReader.js';
import { Crc64 } from './crc64.js';
import { readString } from './encodings/rdbString.js';
import { asRdbError, RdbError } from './rdbErrors.js';
import { MAX_RDB_VERSION, type ParsedValue } from './rdbTypes.js';
import { decodeValue } from './values/decodeValue.js';

/**
 * DUMP payloads: type byte, value, then a 10-byte footer: RDB version (u16 LE) and CRC-64 (u64 LE)
 * of everything before the CRC. RESTORE checks the CRC whatever its value (unlike RDB files, where
 * 0 means "not computed"), and so does this parser unless told not to.
 */

export interface DumpOptions {
  /** Check the footer's CRC-64 (default true). */
  verifyChecksum?: boolean;
  /** Most bytes decompressed strings of the value may add up to (default 512 MB). */
  maxValueBytes?: number;
}

export interface ParsedDump {
  /** The RDB type byte. */
  type: number;
  value: ParsedValue;
  rdbVersion: number;
}

const FOOTER = 10;

export function parseDumpPayload(payload: Buffer, opts: DumpOptions = {}): ParsedDump {
  try {
    const body = checkFooter(payload, opts.verifyChecksum ?? true);
    const r = new ByteReader(payload, new ParseContext(readLimits(opts)), { base: 0 }, 0, body.end);
    const type = r.u8('value type');
    const value = decodeValue(r, type, 0);
    if (r.remaining > 0) r.fail(`${r.remaining} unexpected bytes after the value`);
    return { type, value, rdbVersion: body.version };
  } catch (e) {
    throw asRdbError(e, 0);
  }
}

/** A FUNCTION DUMP payload: the libraries' source code (opcode 0xF5 + string each), same footer. */
export function parseFunctionDump(payload: Buffer, opts: DumpOptions = {}): { libraries: Buffer[]; rdbVersion: number } {
  try {
    const body = checkFooter(payload, opts.verifyChecksum ?? true);
    const r = new ByteReader(payload, new ParseContext(readLimits(opts)), { base: 0 }, 0, body.end);
    const libraries: Buffer[] = [];
    while (r.remaining > 0) {
      const at = r.pos;
      const op = r.u8('function opcode');
      if (op !== 0xf5) r.fail(`expected function library opcode 0xf5, found 0x${op.toString(16)}`, 'corrupt', at);
      libraries.push(readString(r, 'function library code'));
    }
    return { libraries, rdbVersion: body.version };
  } catch (e) {
    throw asRdbError(e, 0);
  }
}

function checkFooter(payload: Buffer, verify: boolean): { end: number; version: number } {
  if (payload.length < FOOTER + 1) throw new RdbError(0, `DUMP payload of ${payload.length} bytes is too short (a type byte, a value and a 10-byte footer)`, 'truncated');
  const end = payload.length - FOOTER;
  const version = payload.readUInt16LE(end);
  if (version > MAX_RDB_VERSION) throw new RdbError(end, `DUMP payload RDB version ${version} is newer than the newest known (${MAX_RDB_VERSION})`, 'unsupported');
  if (version === 0) throw new RdbError(end, 'DUMP payload RDB version 0 is not valid');
  if (verify) {
    const crc = new Crc64().update(payload.subarray(0, end + 2));
    const stored = payload.subarray(end + 2);
    if (!crc.matches(stored)) {
      const computed = Buffer.alloc(8);
      computed.writeBigUInt64LE(crc.value);
      throw new RdbError(end + 2, `the payload's CRC-64 is ${computed.toString('hex')} but its footer says ${stored.toString('hex')} (both as stored: little-endian)`, 'checksum');
    }
  }
  return { end, version };
}
