/**
 * Ferry's RDB codec (write side): DUMP payloads for RDB versions 6 to 12 (Redis 2.6 to 8.0), so a
 * key can move to an older server with one RESTORE. See README.md.
 */
export { encodeDumpPayload, type EncodeOptions } from './dumpPayload.js';
export { canHoldLosslessly, describeRdbVersion, type EncodableValue, type Holdability } from './lossless.js';
export { transcodeDumpPayload, refooted, type Transcoded } from './transcode.js';
export { RdbEncodeError } from './encodeError.js';
export { RdbVersion, MAX_ENCODE_VERSION, Limits } from './thresholds.js';
export { encodeListpack } from './listpack.js';
export { encodeZiplist } from './ziplist.js';
export { encodeIntset } from './intset.js';
