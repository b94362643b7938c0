import type { KeyType } from '../../../shared/job.js';

export { KEY_TYPES, type KeyType } from '../../../shared/job.js';

/**
 * The type of a DUMP payload, from its first byte (the RDB object type, rdb.h). Module values are
 * reported as `module`; unknown bytes as `unknown`, so a newer server's type is noticed, not guessed.
 */
export function payloadType(payload: Buffer): KeyType | 'module' | 'unknown' {
  switch (payload[0]) {
    case 0:
      return 'string';
    case 1:
    case 10:
    case 14:
    case 18:
      return 'list';
    case 2:
    case 11:
    case 20:
      return 'set';
    case 3:
    case 5:
    case 12:
    case 17:
      return 'zset';
    case 4:
    case 9:
    case 13:
    case 16:
    case 24:
    case 25:
      return 'hash';
    case 15:
    case 19:
    case 21:
      return 'stream';
    case 6:
    case 7:
      return 'module';
    default:
      return 'unknown';
  }
}
