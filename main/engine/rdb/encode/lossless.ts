import { printableBytes, type LogicalValue } from '../../values/logicalValue.js';
import type { ParsedHash, ParsedValue } from '../rdbTypes.js';
import { MAX_ENCODE_VERSION, RdbVersion } from './thresholds.js';
import { estimateEntriesRead, reloadedCounters } from './values/streamMeta.js';
import type { EncodableStream } from './values/streams.js';

/** What the encoder takes: a parsed value (with its extras) or a LogicalValue read with commands. */
export type EncodableValue = ParsedValue | LogicalValue;

export type Holdability = { ok: true; /** What is dropped that the version has no field for and its readers fill in alike. */ note?: string } | { ok: false; reason: string };

const RELEASES: Record<number, string> = {
  6: 'Redis 2.6-3.0',
  7: 'Redis 3.2',
  8: 'Redis 4.0',
  9: 'Redis 5.0-6.2',
  10: 'Redis 7.0',
  11: 'Redis 7.2',
  12: 'Redis 7.4+',
};

/** "RDB 9 (Redis 5.0-6.2)". */
export function describeRdbVersion(v: number): string {
  return RELEASES[v] ? `RDB ${v} (${RELEASES[v]})` : `RDB ${v}`;
}

/**
 * Whether a DUMP payload of RDB version `rdbVersion` can hold `value` with nothing lost, and if
 * not, what would be. Lost: hash field TTLs below RDB 12; streams below 9 altogether; into 9, the
 * 7.0+ stream counters unless a 7.0+ server reading the payload back would derive the same ones.
 * Not counted as lost: consumer active times (7.2+) into RDB 10, which has no such field (7.2+
 * reading it back takes the seen time, as the commands path would give neither); it is noted.
 */
export function canHoldLosslessly(value: EncodableValue, rdbVersion: number): Holdability {
  const unwritable = cannotWrite(value, rdbVersion);
  if (unwritable) return { ok: false, reason: unwritable };
  if (value.type === 'hash') {
    const ttls = (value as ParsedHash).fieldExpiresMs?.length ?? 0;
    if (ttls > 0 && rdbVersion < RdbVersion.FIELD_TTL) {
      return { ok: false, reason: `${ttls} of its ${value.fields.length} hash fields have their own TTL (Redis 7.4+, RDB 12); ${describeRdbVersion(rdbVersion)} has no place for field TTLs` };
    }
  }
  if (value.type === 'stream') {
    const s: EncodableStream = value.stream;
    if (rdbVersion === RdbVersion.STREAM) {
      const lost = rdb9Losses(s);
      if (lost.length > 0) return { ok: false, reason: `${describeRdbVersion(rdbVersion)} streams have no place for ${lost.join('; ')}` };
    }
    if (rdbVersion < RdbVersion.SET_LISTPACK) {
      const active = s.groups.some((g) => g.consumerTimes?.some((t) => t.activeTimeMs !== undefined && t.activeTimeMs !== t.seenTimeMs));
      if (active) return { ok: true, note: `consumer active times (Redis 7.2+) are left out: ${describeRdbVersion(rdbVersion)} has no place for them` };
    }
  }
  return { ok: true };
}

/** Why no payload of that version can be written at all, or null. */
export function cannotWrite(value: EncodableValue, rdbVersion: number): string | null {
  if (!Number.isInteger(rdbVersion) || rdbVersion < RdbVersion.DUMP) return `RDB version ${rdbVersion} has no DUMP payloads (DUMP and RESTORE came with Redis 2.6, RDB 6)`;
  if (rdbVersion > MAX_ENCODE_VERSION) return `RDB version ${rdbVersion} is newer than the newest Ferry writes (${MAX_ENCODE_VERSION})`;
  if (value.type === 'stream' && rdbVersion < RdbVersion.STREAM) return `streams came with Redis 5.0 (RDB 9); ${describeRdbVersion(rdbVersion)} has no stream type`;
  return null;
}

/** The 7.0+ counters an RDB 9 payload loses: those a 7.0+ server reading it back would not derive. */
function rdb9Losses(s: EncodableStream): string[] {
  const lost: string[] = [];
  if (s.entriesAdded !== undefined && s.entriesAdded !== s.length) {
    lost.push(`entries-added ${s.entriesAdded} (read back: ${s.length}, the entries it holds)`);
  }
  if (s.maxDeletedId !== undefined && s.maxDeletedId !== '0-0') lost.push(`max-deleted-entry-id ${s.maxDeletedId} (read back: 0-0)`);
  // The recorded first ID of an empty stream has no effect; of another, it is the first entry's.
  if (s.firstId !== undefined && s.entries.length > 0 && s.firstId !== s.entries[0][0]) {
    lost.push(`recorded-first-entry-id ${s.firstId} (read back: ${s.entries[0][0]}, the first entry's)`);
  }
  const reloaded = reloadedCounters(s);
  for (const g of s.groups) {
    if (typeof g.entriesRead !== 'number') continue;
    const estimate = estimateEntriesRead(reloaded, g.lastDeliveredId);
    if (estimate !== g.entriesRead) lost.push(`entries-read ${g.entriesRead} of group ${printableBytes(g.name)} (read back: ${estimate ?? 'unknown'})`);
  }
  return lost;
}
