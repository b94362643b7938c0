import type { ByteReader } from '../byteReader.js';
import { RdbType, type ParsedValue } from '../rdbTypes.js';
import { readModuleValue } from './modules.js';
import {
  readHashtableHash,
  readHashtableSet,
  readIntsetSet,
  readLinkedList,
  readListpackExHash,
  readListpackSet,
  readMetadataHash,
  readPackedHash,
  readPackedZset,
  readQuicklist,
  readQuicklist2,
  readSkiplistZset,
  readStringValue,
  readZiplistList,
  readZipmapHash,
} from './simpleValues.js';
import { readStream } from './stream.js';

/** Reads the value of RDB type `type` (the type byte has been read; `typeAt` is where it was). */
export function decodeValue(r: ByteReader, type: number, typeAt: number): ParsedValue {
  switch (type) {
    case RdbType.STRING:
      return readStringValue(r);
    case RdbType.LIST:
      return readLinkedList(r);
    case RdbType.SET:
      return readHashtableSet(r);
    case RdbType.ZSET:
      return readSkiplistZset(r, false);
    case RdbType.HASH:
      return readHashtableHash(r);
    case RdbType.ZSET_2:
      return readSkiplistZset(r, true);
    case RdbType.MODULE_PRE_GA:
    case RdbType.MODULE_2:
      return readModuleValue(r, type);
    case RdbType.HASH_ZIPMAP:
      return readZipmapHash(r);
    case RdbType.LIST_ZIPLIST:
      return readZiplistList(r);
    case RdbType.SET_INTSET:
      return readIntsetSet(r);
    case RdbType.ZSET_ZIPLIST:
      return readPackedZset(r, 'ziplist');
    case RdbType.HASH_ZIPLIST:
      return readPackedHash(r, 'ziplist');
    case RdbType.LIST_QUICKLIST:
      return readQuicklist(r);
    case RdbType.STREAM_LISTPACKS:
    case RdbType.STREAM_LISTPACKS_2:
    case RdbType.STREAM_LISTPACKS_3:
      return readStream(r, type);
    case RdbType.HASH_LISTPACK:
      return readPackedHash(r, 'listpack');
    case RdbType.ZSET_LISTPACK:
      return readPackedZset(r, 'listpack');
    case RdbType.LIST_QUICKLIST_2:
      return readQuicklist2(r);
    case RdbType.SET_LISTPACK:
      return readListpackSet(r);
    case RdbType.HASH_METADATA:
      return readMetadataHash(r);
    case RdbType.HASH_LISTPACK_EX:
      return readListpackExHash(r);
    case RdbType.HASH_METADATA_PRE_GA:
    case RdbType.HASH_LISTPACK_EX_PRE_GA:
      return r.fail(`value type ${type} (hash with field TTLs in the Redis 7.4 release-candidate format) is not supported`, 'unsupported', typeAt);
    default:
      return r.fail(`unknown value type ${type}`, 'corrupt', typeAt);
  }
}
