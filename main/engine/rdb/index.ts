/**
 * Ferry's RDB codec (read side): DUMP payloads and RDB files of Redis 2.4 to 8.0 (RDB versions 1 to
 * 12), parsed into values shaped like LogicalValue. Bad input only ever throws RdbError.
 */
export { readRdb, type KeyInfo, type RdbItem, type RdbReadOptions } from './rdbFile.js';
export { parseDumpPayload, parseFunctionDump, type DumpOptions, type ParsedDump } from './dumpPayload.js';
export { RdbError, type RdbErrorCode } from './rdbErrors.js';
export { RdbType, MAX_RDB_VERSION, isKnownType, type ParsedValue, type ParsedHash, type ParsedStream, type ParsedStreamGroup } from './rdbTypes.js';
export { crc64, Crc64 } from './crc64.js';
export { lzfCompress, lzfDecompress, LzfStreamDecoder } from './lzf.js';
export { decodeModuleId, type ModuleId } from './values/modules.js';
export { DEFAULT_MAX_VALUE_BYTES } from './byteReader.js';
