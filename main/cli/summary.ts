import type { KeyCounts } from '../../shared/events.js';
import type { RunResult } from '../engine/run/migration.js';
import type { VerifyResult } from '../engine/verify/verifier.js';
import { describeKey } from '../engine/run/describeKey.js';
import { formatBytes, formatCount } from './format.js';

const COLUMNS: Array<[keyof KeyCounts, string]> = [
  ['scanned', 'scanned'],
  ['written', 'written'],
  ['unchanged', 'unchanged'],
  ['skipped', 'skipped'],
  ['expired', 'expired'],
  ['vanished', 'vanished'],
  ['filtered', 'filtered'],
  ['reencoded', 're-encoded'],
  ['viaCommands', 'via cmds'],
  ['chunked', 'chunked'],
  ['errors', 'errors'],
];

/** The run's counts as a table, one row per source and a total. */
export function formatRunSummary(result: RunResult, elapsedMs: number): string {
  const rows: Array<[string, KeyCounts]> = [...Object.entries(result.perSource), ['total', result.counts]];
  const header = ['source', ...COLUMNS.map(([, title]) => title), 'bytes'];
  const body = rows.map(([name, c]) => [name, ...COLUMNS.map(([k]) => formatCount(c[k])), formatBytes(c.bytes)]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const rate = elapsedMs > 0 ? (result.counts.written + result.counts.unchanged) / (elapsedMs / 1000) : 0;
  return [
    line(header),
    ...body.map(line),
    '',
    `${result.outcome === 'done' ? 'Done' : result.outcome === 'stopped' ? 'Stopped' : 'Failed'} in ${(elapsedMs / 1000).toFixed(1)} s (${formatCount(rate)} keys/s).`,
    ...(result.verified
      ? [`Verified against the staging copies before removing them: ${formatCount(result.verified.compared)} keys compared, ${formatCount(result.verified.differences)} differ.`]
      : []),
    ...(result.message ? [result.message] : []),
  ].join('\n');
}

export function formatVerifySummary(result: VerifyResult, elapsedMs: number): string {
  const d = result.differences;
  const differing = d.missing + d.type + d.value + d.ttl;
  const lines = [
    `Compared ${formatCount(result.compared)} keys in ${(elapsedMs / 1000).toFixed(1)} s: ${formatCount(result.equal)} equal, ${formatCount(differing)} differ ` +
      `(missing ${formatCount(d.missing)}, type ${formatCount(d.type)}, value ${formatCount(d.value)}, ttl ${formatCount(d.ttl)}).`,
  ];
  if (result.keptByPolicy) lines.push(`${formatCount(result.keptByPolicy)} keys differ because onConflict: skip kept the target's value (listed in the job's skipped-keys.ndjson); not counted as differences.`);
  if (result.vanished) lines.push(`${formatCount(result.vanished)} source keys vanished or expired while verify ran.`);
  if (result.firstDifferences.length) {
    lines.push('', 'First differences:');
    for (const diff of result.firstDifferences.slice(0, 20)) {
      lines.push(`  ${diff.source} db ${diff.db} -> db ${diff.targetDb}  ${describeKey(Buffer.from(diff.keyHex, 'hex'))}  ${diff.kind}: ${diff.detail}`);
    }
  }
  lines.push(differing === 0 ? 'Verify passed: the target holds every selected source key.' : 'Verify FAILED: the target differs from the sources.');
  return lines.join('\n');
}
