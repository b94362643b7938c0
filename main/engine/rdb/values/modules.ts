import type { ByteReader } from '../byteReader.js';
import { readLength, readLengthBig } from '../encodings/rdbLength.js';
import { skipString } from '../encodings/rdbString.js';

/**
 * Module data. A module type is named by a 64-bit ID: 9 characters of 6 bits each (from the set
 * below, first character in the top bits), then a 10-bit encoding version. Module values of type 7
 * and module aux data are written as typed fields (opcode: 1 signed int, 2 unsigned int, 3 float,
 * 4 double, 5 string; 0 ends), so they can be skipped without the module; type 6 values cannot.
 */

const NAME_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

export interface ModuleId {
  id: bigint;
  name: string;
  encodingVersion: number;
}

export function decodeModuleId(id: bigint): ModuleId {
  let name = '';
  for (let j = 0; j < 9; j++) name += NAME_CHARS[Number((id >> BigInt(58 - 6 * j)) & 63n)];
  return { id, name, encodingVersion: Number(id & 1023n) };
}

export function readModuleId(r: ByteReader, what: string): ModuleId {
  return decodeModuleId(BigInt(readLengthBig(r, what)));
}

/** A module key value: Ferry cannot decode module types, so this reports which one it is. */
export function readModuleValue(r: ByteReader, type: number): never {
  const at = r.pos;
  const m = readModuleId(r, 'module type ID');
  return r.fail(
    `value of module type "${m.name}" (id 0x${m.id.toString(16)}, encoding version ${m.encodingVersion}, RDB type ${type}) is not supported: Ferry cannot decode module data`,
    'unsupported',
    at,
  );
}

const OP_EOF = 0;
const OP_SINT = 1;
const OP_UINT = 2;
const OP_FLOAT = 3;
const OP_DOUBLE = 4;
const OP_STRING = 5;

/** Skips typed module fields up to and including the end opcode. */
export function skipModuleFields(r: ByteReader, what: string): void {
  for (;;) {
    const at = r.pos;
    const op = readLength(r, `${what} opcode`);
    switch (op) {
      case OP_EOF:
        return;
      case OP_SINT:
      case OP_UINT:
        readLengthBig(r, `${what} integer`);
        break;
      case OP_FLOAT:
        r.skip(4, `${what} float`);
        break;
      case OP_DOUBLE:
        r.skip(8, `${what} double`);
        break;
      case OP_STRING:
        skipString(r, `${what} string`);
        break;
      default:
        r.fail(`${what}: unknown module field opcode ${op}`, 'corrupt', at);
    }
  }
}
