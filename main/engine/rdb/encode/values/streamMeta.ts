import { compareStreamIds } from '../../../values/logicalValue.js';

/**
 * Stream metadata that RDB 9 (type 15) has no place for, as a Redis 7.0+ server fills it in when it
 * loads such a stream (rdb.c): entries-added = length, max-deleted-entry-id = 0-0, the first ID
 * from the entries, and each group's entries-read estimated (t_stream.c
 * streamEstimateDistanceFromFirstEverEntry). The encoder writes the same for values that lack it,
 * so a payload it writes for 7.0+ loads exactly as the older payload would have.
 */

/** What a 7.0+ loader gives a stream without first ID: the first entry's, or the largest ID when empty. */
export const MAX_STREAM_ID = '18446744073709551615-18446744073709551615';

export interface StreamCounters {
  length: number;
  lastId: string;
  firstId: string;
  maxDeletedId: string;
  entriesAdded: number;
}

export function derivedFirstId(entries: ReadonlyArray<readonly [string, unknown]>): string {
  return entries.length > 0 ? entries[0][0] : MAX_STREAM_ID;
}

/** The counters a 7.0+ server gives a stream loaded from an RDB 9 payload. */
export function reloadedCounters(s: { entries: ReadonlyArray<readonly [string, unknown]>; length: number; lastId: string }): StreamCounters {
  return { length: s.length, lastId: s.lastId, firstId: derivedFirstId(s.entries), maxDeletedId: '0-0', entriesAdded: s.length };
}

/** A group's entries-read as Redis estimates it from the stream's counters; null when it cannot. */
export function estimateEntriesRead(s: StreamCounters, lastDeliveredId: string): number | null {
  if (s.entriesAdded === 0) return 0;
  if (s.length === 0 && compareStreamIds(lastDeliveredId, s.lastId) <= 0) return s.entriesAdded;
  // Newer servers also give up before the last tombstone; 7.0's loader never sees one (0-0).
  if (lastDeliveredId !== '0-0' && compareStreamIds(lastDeliveredId, s.maxDeletedId) < 0) return null;
  const toLast = compareStreamIds(lastDeliveredId, s.lastId);
  if (toLast === 0) return s.entriesAdded;
  if (toLast > 0) return null;
  if (s.maxDeletedId === '0-0' || compareStreamIds(s.maxDeletedId, s.firstId) < 0) {
    const toFirst = compareStreamIds(lastDeliveredId, s.firstId);
    if (toFirst < 0) return s.entriesAdded - s.length;
    if (toFirst === 0) return s.entriesAdded - s.length + 1;
  }
  return null;
}
