import type { RdbInspection } from '../../shared/rdb.js';
import { formatBytes, formatCount, formatMs, formatPercent, formatTimestamp } from '../../shared/format.js';
import { clean, clip, columns, showKey, wrap, WIDTH } from './terminalText.js';


/**
 * `ferry rdb inspect` for a terminal: the file and who wrote it, aux fields, functions, totals, dbs,
 * types with their encodings, TTLs, the biggest keys and the memory estimate with its method. Plain
 * text, no line wider than 120 columns; text from the file (keys, aux values) is cleaned of control
 * characters so that a key cannot drive the terminal.
 */
export function formatRdbSummary(r: RdbInspection): string {
  const lines = [
    ...headerLines(r),
    '',
    ...auxLines(r),
    ...functionLines(r),
    '',
    ...totalLines(r),
    '',
    ...dbLines(r),
    '',
    ...typeLines(r),
    '',
    ...ttlLines(r),
    '',
    ...bigKeyLines(r),
    '',
    ...wrap(`Memory: ~${formatBytes(r.memory.estimatedBytes)}, an ESTIMATE. ${r.memory.method}`, '', 2),
  ];
  return lines.map((l) => clip(l, WIDTH)).join('\n');
}

// ---------------------------------------------------------------------------------------------
// Text helpers

/** A table whose last column may be long: it is wrapped under itself. */
function table(rows: string[][], right: number[], indent: number): string[] {
  const out: string[] = [];
  const laid = columns(rows, right, indent);
  const lastAt = laid[0].length - rows[0][rows[0].length - 1].length;
  laid.forEach((l, i) => {
    const last = rows[i][rows[i].length - 1];
    if (l.length <= WIDTH || lastAt > WIDTH - 20) out.push(l);
    else out.push(...wrap(last, l.slice(0, lastAt), lastAt));
  });
  return out;
}

const plural = (n: number, word: string) => `${formatCount(n)} ${word}${n === 1 ? '' : 's'}`;

// ---------------------------------------------------------------------------------------------
// Sections

function headerLines(r: RdbInspection): string[] {
  const by = r.writtenBy.from === 'aux' ? `Redis ${clean(r.writtenBy.version)}` : `Redis ${r.writtenBy.version} (from the RDB version; the file does not say)`;
  const checksum = r.checksum === 'ok' ? 'checksum OK' : r.checksum === 'absent' ? `no checksum (RDB ${r.rdbVersion} has none)` : 'checksum disabled (written as 0)';
  const rate = r.parseMs > 0 ? `, ${formatBytes((r.fileBytes / r.parseMs) * 1000)}/s` : '';
  return [
    ...wrap(`RDB file ${clean(r.file)} (${formatBytes(r.fileBytes)})`, '', 2),
    `  RDB version ${r.rdbVersion}, written by ${by}`,
    `  ${r.createdAt ? `saved ${formatTimestamp(r.createdAt)}` : 'save time not recorded'}; ${checksum}; read in ${formatMs(r.parseMs)}${rate}`,
  ];
}

function auxLines(r: RdbInspection): string[] {
  if (r.aux.length === 0) return ['Aux fields: none (files written before Redis 3.2 have none)'];
  const rows = r.aux.map((a) => [clip(clean(a.key), 24), clip(clean(a.value), 40), a.meaning ? clean(a.meaning) : '']);
  return [`Aux fields: ${r.aux.length}`, ...table(rows, [], 2)];
}

function functionLines(r: RdbInspection): string[] {
  const lines: string[] = [];
  if (r.functions.length) {
    const libs = r.functions.map((f) => `${clean(f.library ?? '(unnamed)')} (${clean(f.engine ?? '?')}, ${formatBytes(f.bytes)})`);
    const count = r.functions.length === 1 ? '1 library' : `${formatCount(r.functions.length)} libraries`;
    lines.push(...wrap(`Functions: ${count}: ${libs.join(', ')}`, '', 2));
  }
  if (r.modules.length) lines.push(...wrap(`Module data: ${r.modules.map((m) => clean(m.name)).join(', ')} (skipped; loading the file needs these modules)`, '', 2));
  if (r.slotInfoRecords) lines.push(`Cluster slot info: ${plural(r.slotInfoRecords, 'record')}`);
  return lines;
}

function totalLines(r: RdbInspection): string[] {
  const t = r.totals;
  const details = [`${formatCount(t.expires)} with a TTL`, `${formatCount(t.expiredAtRead)} expired`, ...(t.fieldTtlKeys ? [`${formatCount(t.fieldTtlKeys)} hash${t.fieldTtlKeys === 1 ? '' : 'es'} with field TTLs`] : [])];
  return wrap(`Totals: ${plural(t.keys, 'key')} (${details.join(', ')}); ${formatBytes(t.fileBytes)} in the file, ~${formatBytes(t.memory)} in memory (est.)`, '', 2);
}

function dbLines(r: RdbInspection): string[] {
  if (r.dbs.length === 0) return ['Databases: none (the file holds no keys)'];
  const rows = [
    ['db', 'keys', 'TTL', 'expired', 'resize hint', 'in file', 'memory (est.)', 'keys by type'],
    ...r.dbs.map((d) => [
      `db${d.db}`,
      formatCount(d.keys),
      formatCount(d.expires),
      formatCount(d.expiredAtRead),
      d.resize ? `${formatCount(d.resize.dbSize)}/${formatCount(d.resize.expiresSize)}` : '-',
      formatBytes(d.fileBytes),
      formatBytes(d.memory),
      d.types.map((t) => `${t.type} ${formatCount(t.keys)}`).join(', ') + (d.fieldTtlKeys ? ` (${formatCount(d.fieldTtlKeys)} with field TTLs)` : ''),
    ]),
  ];
  return [`Databases: ${r.dbs.length}`, ...table(rows, [1, 2, 3, 4, 5, 6], 2)];
}

function typeLines(r: RdbInspection): string[] {
  if (r.types.length === 0) return ['Types: none'];
  const rows = [
    ['type', 'keys', 'elements', 'in file', 'memory (est.)', 'share', 'encodings (RDB type byte: keys)'],
    ...r.types.map((t) => [
      t.type,
      formatCount(t.keys),
      formatCount(t.elements),
      formatBytes(t.fileBytes),
      formatBytes(t.memory),
      formatPercent(t.memory, r.totals.memory),
      t.encodings.map((e) => `${clean(e.name)} (${e.typeByte}): ${formatCount(e.keys)}`).join(', '),
    ]),
  ];
  return ['Types', ...table(rows, [1, 2, 3, 4, 5], 2)];
}

function ttlLines(r: RdbInspection): string[] {
  const t = r.ttl;
  const parts = [`none ${formatCount(t.none)}`, `< 1h ${formatCount(t.lt1h)}`, `< 1d ${formatCount(t.lt1d)}`, `< 7d ${formatCount(t.lt7d)}`, `later ${formatCount(t.longer)}`, `expired ${formatCount(t.expired)}`];
  return wrap(`TTLs (left at ${formatTimestamp(r.readAt)}): ${parts.join(', ')}`, '', 2);
}

function bigKeyLines(r: RdbInspection): string[] {
  if (r.biggestKeys.length === 0) return [`Biggest keys: none`];
  const rows = [
    ['db', 'type', 'encoding', 'in file', 'elements', 'memory (est.)', 'key'],
    ...r.biggestKeys.map((k) => [String(k.db), k.type, clean(k.encoding), formatBytes(k.fileBytes), formatCount(k.elements), formatBytes(k.memory), clip(showKey(k.key, k.keyHex), 60)]),
  ];
  return [`Biggest keys (top ${r.biggestKeys.length} by bytes in the file)`, ...columns(rows, [0, 3, 4, 5], 2)];
}
