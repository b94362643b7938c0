import type { BigKey, CollisionGroup, EndpointFacts, PlanDocument, SourceAnalysis, Verdict } from '../../shared/plan.js';
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent, formatTimestamp } from '../../shared/format.js';
import { clean, clip, columns, pack, showKey, wrap, WIDTH } from './terminalText.js';

const TOP_PREFIXES = 5;
const TOP_BIG_KEYS = 10;
const COLLISION_SAMPLES = 3;

const LEVEL_ORDER: Record<Verdict['level'], number> = { blocker: 0, warn: 1, ok: 2 };
const LEVEL_TAG: Record<Verdict['level'], string> = { blocker: 'BLOCKER', warn: 'WARN', ok: 'OK' };

/**
 * The plan for a terminal: verdicts first, then totals, endpoints, sources, big keys, collisions,
 * capacity and the estimated duration. Plain text, no line wider than 120 columns; text from the
 * plan is cleaned of control characters so that a key cannot drive the terminal.
 */
export function formatPlanSummary(plan: PlanDocument): string {
  const lines = [
    ...headerLines(plan),
    '',
    ...verdictLines(plan.verdicts),
    '',
    `Totals: ${formatCount(plan.totals.keys)} keys, ${formatBytes(plan.totals.bytes)}, estimated ${estimate(plan.totals.estimatedMs)}` +
      `${plan.sample === null ? '' : ' (extrapolated from the sample)'}`,
    '',
    ...endpointLines(plan.endpoints),
    ...plan.sources.flatMap((s) => ['', ...sourceLines(s)]),
    '',
    ...bigKeyLines(plan.bigKeys),
    '',
    ...collisionLines(plan.collisions),
    '',
    ...capacityLines(plan.capacity),
    ...stagingLines(plan.staging),
    '',
    `Estimated duration: ${estimate(plan.totals.estimatedMs)}${plan.totals.estimatedMs === null ? '' : ' (bulk copy at the measured read rates)'}`,
  ];
  // Wrapping keeps lines within WIDTH; the cut is a last guard for anything unbreakable.
  return lines.map((l) => clip(l, WIDTH)).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Text helpers

function estimate(ms: number | null): string {
  return ms === null ? 'unknown' : formatDuration(ms);
}

function limit(maxmemory: number | null): string {
  if (maxmemory === null) return 'unknown max';
  return maxmemory === 0 ? 'no limit' : formatBytes(maxmemory);
}

// ---------------------------------------------------------------------------------------------
// Sections

function headerLines(plan: PlanDocument): string[] {
  const scope = plan.sample === null ? 'complete (every selected key analysed)' : `sampled (${formatCount(plan.sample)} keys per source db)`;
  return pack([`Ferry plan: ${clean(plan.job)}`, formatTimestamp(clean(plan.createdAt)), scope, `analysed in ${formatMs(plan.elapsedMs)}`], '', 2);
}

function verdictLines(verdicts: Verdict[]): string[] {
  const count = (level: Verdict['level']) => verdicts.filter((v) => v.level === level).length;
  const blockers = count('blocker');
  const warnings = count('warn');
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;
  const headline =
    blockers > 0
      ? `NOT READY: ${plural(blockers, 'blocker')}, ${plural(warnings, 'warning')}`
      : warnings > 0
        ? `READY WITH ${plural(warnings, 'WARNING')}`
        : 'READY: nothing stands in the way';
  const sorted = verdicts.map((v, i) => ({ v, i })).sort((a, b) => LEVEL_ORDER[a.v.level] - LEVEL_ORDER[b.v.level] || a.i - b.i);
  const topicWidth = Math.max(0, ...verdicts.map((v) => v.topic.length));
  return [headline, ...sorted.flatMap(({ v }) => {
    const lead = `  ${LEVEL_TAG[v.level].padEnd(7)}  ${v.topic.padEnd(topicWidth)}  `;
    return wrap(clean(v.message), lead, lead.length);
  })];
}

function endpointLines(endpoints: EndpointFacts[]): string[] {
  const nameWidth = Math.min(24, Math.max(0, ...endpoints.map((e) => clean(e.name).length)));
  return ['Endpoints', ...endpoints.flatMap((e) => {
    const lead = `  ${e.role.padEnd(6)}  ${clip(clean(e.name), 24).padEnd(nameWidth)}  `;
    if (!e.reachable) return wrap(`${clean(e.address)} UNREACHABLE${e.error ? `: ${clean(e.error)}` : ''}`, lead, lead.length);
    const refused = Object.entries(e.commands).filter(([, a]) => a === 'refused').map(([c]) => clean(c));
    const mode = e.mode === 'cluster' ? `cluster (${e.nodes.length} masters)` : (e.mode ?? 'mode unknown');
    const parts = [
      clean(e.address),
      `Redis ${e.version === null ? '?' : clean(e.version)} / RDB ${e.rdbVersion ?? '?'}`,
      mode,
      `${e.usedMemory === null ? '?' : formatBytes(e.usedMemory)}${e.maxmemory === 0 ? ', no limit' : ` of ${limit(e.maxmemory)}`}${e.maxmemoryPolicy ? ` (${clean(e.maxmemoryPolicy)})` : ''}`,
      `RTT ${formatMs(e.rttMs)}`,
      refused.length ? `refused: ${refused.join(' ')}` : 'no command refused',
    ];
    return pack(parts, lead, lead.length);
  })];
}

function sourceLines(s: SourceAnalysis): string[] {
  const rate = s.readKeysPerSec === null ? 'read rate not measured' : `${formatCount(s.readKeysPerSec)} keys/s read`;
  const lines = pack([`${formatCount(s.keys)} keys, ${formatBytes(s.bytes)}`, rate, `estimated ${estimate(s.estimatedMs)}`], `Source ${clip(clean(s.name), 60)}:  `, 2);
  const dbRows = s.dbs.map((d) => {
    const types = Object.entries(d.types)
      .sort((a, b) => b[1].bytes - a[1].bytes)
      .map(([t, st]) => `${clean(t)} ${formatPercent(st.bytes, d.bytes)}`)
      .join(', ');
    return [`db${d.db} -> db${d.targetDb}`, `${formatCount(d.keys)} keys`, formatBytes(d.bytes), `memory by type: ${types || 'none'}`];
  });
  if (dbRows.length) {
    for (const l of columns(dbRows, [1, 2], 2)) {
      // The type list is the last column: wrap it under itself when long.
      const cut = l.indexOf('memory by type: ');
      lines.push(...(l.length <= WIDTH ? [l] : pack(l.slice(cut).split(', ').map((p, i, a) => (i < a.length - 1 ? `${p},` : p)), l.slice(0, cut), cut, ' ')));
    }
  }
  const top = s.heaviestByBytes.slice(0, TOP_PREFIXES);
  if (top.length) {
    lines.push(`  Heaviest prefixes (top ${top.length} by memory):`);
    lines.push(...columns(top.map((p) => [clip(clean(p.prefix), 60), formatBytes(p.bytes), `${formatCount(p.keys)} keys`, formatPercent(p.bytes, s.bytes)]), [1, 2, 3], 4));
  }
  return lines;
}

function bigKeyLines(bigKeys: BigKey[]): string[] {
  if (bigKeys.length === 0) return ['Big keys: none'];
  const sorted = [...bigKeys].sort((a, b) => b.bytes - a.bytes);
  const total = sorted.reduce((n, k) => n + k.bytes, 0);
  const shown = sorted.slice(0, TOP_BIG_KEYS);
  const rows = [
    ['source', 'db', 'type', 'size', 'elements', 'strategy', 'stall', 'key'],
    ...shown.map((k) => [clip(clean(k.source), 20), String(k.db), clean(k.type), formatBytes(k.bytes), formatCount(k.elements), clip(clean(k.strategy), 24), `~${formatMs(k.restoreStallMs)}`, showKey(k.key, k.keyHex)]),
  ];
  const lines = [`Big keys: ${formatCount(sorted.length)}, ${formatBytes(total)} in all (largest first; stall = one plain RESTORE, estimated)`, ...columns(rows, [1, 3, 4, 6], 2)];
  if (sorted.length > shown.length) lines.push(`  … and ${formatCount(sorted.length - shown.length)} more`);
  return lines;
}

function collisionLines(c: PlanDocument['collisions']): string[] {
  const lines = [`Collisions: ${formatCount(c.betweenSources)} keys written by more than one source, ${formatCount(c.withTarget)} selected keys already on the target`];
  for (const g of c.groups) lines.push(...collisionGroupLines(g));
  return lines;
}

function collisionGroupLines(g: CollisionGroup): string[] {
  const who = g.kind === 'between-sources' ? `between ${g.sources.map(clean).join(', ')}` : `${g.sources.map(clean).join(', ')} with the target`;
  const head = `${who} -> db${g.targetDb}: ${formatCount(g.keys)} keys (${formatCount(g.identical)} identical, ${formatCount(g.keys - g.identical)} conflicting)`;
  const lines = wrap(head, '  ', 4);
  lines.push(...wrap(clean(g.consequence), '    => ', 7));
  const samples = g.samples.slice(0, COLLISION_SAMPLES).map((s) => clip(showKey(s.key, s.keyHex), 50) + (s.identical ? ' (same value)' : ''));
  if (samples.length) lines.push(...pack(samples.map((s, i) => (i < samples.length - 1 ? `${s},` : s)), '    e.g. ', 9, ' '));
  return lines;
}

function capacityLines(cap: PlanDocument['capacity']): string[] {
  const line = (used: number | null, planned: number, max: number | null) => {
    const after = (used ?? 0) + planned;
    const share = max ? ` (${formatPercent(after, max)}${after > max ? ', OVER' : ''})` : '';
    return `${used === null ? '? used' : `${formatBytes(used)} used`} + ${formatBytes(planned)} planned = ${formatBytes(after)} of ${limit(max)}${share}`;
  };
  const lines = [`Capacity: target ${line(cap.targetUsed, cap.planned, cap.maxmemory)}`];
  if (cap.perNode.length) lines.push(...columns(cap.perNode.map((n) => [clip(clean(n.address), 40), line(n.used, n.planned, n.maxmemory)]), [], 2));
  return lines;
}

function stagingLines(staging: PlanDocument['staging']): string[] {
  return staging.flatMap((s) => {
    const free = s.freeBytes === null ? 'free space unknown' : `${formatBytes(s.freeBytes)} free${s.freeBytes < s.bytesNeeded ? ' (NOT ENOUGH)' : ''}`;
    return wrap(`${clean(s.source)} needs ${formatBytes(s.bytesNeeded)} in ${clean(s.dir)}, ${free}`, 'Staging: ', 2);
  });
}
