import type { Verdict } from '../../../shared/plan.js';
import { MAX_RDB_VERSION } from '../rdb/index.js';

export interface VersionSide {
  name: string;
  version: string;
  rdbVersion: number;
}

function atLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  return a > major || (a === major && b >= minor);
}

/**
 * What the versions of a source and the target mean for the move: payloads as they are,
 * re-encoded for the target's RDB version, plain commands, or values that cannot be held at all.
 */
export function versionVerdicts(
  source: VersionSide,
  target: VersionSide,
  has: { streams: boolean; hashes: boolean; fieldTtlKeys?: number },
  acceptLoss: readonly string[] = [],
): Verdict[] {
  const verdicts: Verdict[] = [];
  const pair = `${source.name} (Redis ${source.version}, RDB ${source.rdbVersion}) -> target (Redis ${target.version}, RDB ${target.rdbVersion})`;
  if (has.streams && !atLeast(target.version, 5, 0)) {
    verdicts.push({
      level: 'blocker',
      topic: 'versions',
      message: `${pair}: the source has streams, which Redis ${target.version} cannot hold (streams need 5.0 or newer); leave them out with options.types or choose a newer target`,
    });
  }
  if (has.hashes && atLeast(source.version, 7, 4) && !atLeast(target.version, 7, 4)) {
    const keys = has.fieldTtlKeys;
    if (keys === undefined) {
      verdicts.push({ level: 'warn', topic: 'versions', message: `${pair}: hash fields with their own TTLs (Redis 7.4+), if the source has any, lose those TTLs on Redis ${target.version}` });
    } else if (keys > 0) {
      const accepted = acceptLoss.includes('hash-field-ttls');
      verdicts.push({
        level: accepted ? 'warn' : 'blocker',
        topic: 'versions',
        message: `${pair}: ${keys} key(s) hold hash fields with their own TTLs, which Redis ${target.version} cannot keep` +
          (accepted ? ' (accepted by options.acceptLoss: the fields are copied without their TTLs)' : '; choose a target of 7.4 or newer, or accept the loss with options.acceptLoss: [hash-field-ttls]'),
      });
    }
  }
  if (has.streams && atLeast(source.version, 7, 0) && atLeast(target.version, 5, 0) && !atLeast(target.version, 7, 0)) {
    verdicts.push({
      level: 'warn',
      topic: 'versions',
      message:
        `${pair}: streams keep their entries, groups and pending lists, but Redis ${target.version} has no place for the counters 7.0 added ` +
        '(entries-added, max-deleted-entry-id, entries-read of groups): a stream whose counters the target would not derive alike is written with plain commands, and XINFO there shows the derived values',
    });
  }
  if (source.rdbVersion <= target.rdbVersion) {
    verdicts.push({ level: 'ok', topic: 'versions', message: `${pair}: DUMP payloads go as they are (one RESTORE per key)` });
  } else if (source.rdbVersion > MAX_RDB_VERSION) {
    verdicts.push({
      level: 'warn',
      topic: 'versions',
      message: `${pair}: RDB ${source.rdbVersion} is newer than Ferry reads (${MAX_RDB_VERSION}), so keys are written with plain commands (slower than RESTORE)`,
    });
  } else {
    verdicts.push({
      level: 'ok',
      topic: 'versions',
      message:
        `${pair}: payloads are re-encoded for RDB ${target.rdbVersion} where that loses nothing (still one RESTORE per key); ` +
        `a value no RDB ${target.rdbVersion} payload can hold is written with plain commands`,
    });
  }
  return verdicts;
}
