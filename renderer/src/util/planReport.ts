import { formatBytes, formatCount, formatDuration, formatMs, formatTimestamp } from '../../../shared/format.js';
import { TTL_BUCKETS, type PlanDocument, type TtlHistogram, type TypeStats } from '../../../shared/plan.js';

export const TTL_LABELS: Record<(typeof TTL_BUCKETS)[number], string> = {
  none: 'no TTL',
  lt1h: '< 1 h',
  lt1d: '< 1 d',
  lt7d: '< 7 d',
  longer: 'longer',
  expired: 'expired',
};

/** Keys and bytes per type over every source and db, biggest first. */
export function typeTotals(doc: PlanDocument): Array<{ type: string; keys: number; bytes: number }> {
  const out: TypeStats = {};
  for (const s of doc.sources) {
    for (const db of s.dbs) {
      for (const [type, t] of Object.entries(db.types)) {
        const cur = out[type] ?? { keys: 0, bytes: 0 };
        out[type] = { keys: cur.keys + t.keys, bytes: cur.bytes + t.bytes };
      }
    }
  }
  return Object.entries(out)
    .map(([type, t]) => ({ type, ...t }))
    .sort((a, b) => b.bytes - a.bytes);
}

/** The TTL histogram summed over every source and db. */
export function ttlTotals(doc: PlanDocument): TtlHistogram {
  const out: TtlHistogram = { none: 0, lt1h: 0, lt1d: 0, lt7d: 0, longer: 0, expired: 0 };
  for (const s of doc.sources) for (const db of s.dbs) for (const b of TTL_BUCKETS) out[b] += db.ttl[b];
  return out;
}

export function planCounts(doc: PlanDocument): { blocker: number; warn: number; ok: number } {
  const c = { blocker: 0, warn: 0, ok: 0 };
  for (const v of doc.verdicts) c[v.level]++;
  return c;
}

const esc = (s: unknown) =>
  String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);

function table(head: string[], rows: Array<Array<string | number>>, numeric: number[] = []): string {
  if (rows.length === 0) return '<p class="muted">none</p>';
  const th = head.map((h, i) => `<th${numeric.includes(i) ? ' class="n"' : ''}>${esc(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c, i) => `<td${numeric.includes(i) ? ' class="n"' : ''}>${esc(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

/** Big keys written into the HTML export at most (the JSON export holds all). */
export const HTML_BIG_KEYS = 2000;

/**
 * The plan as a self-contained HTML page (plain tables, inline style, no script) to forward. The
 * document holds no secrets; every value is escaped.
 */
export function planToHtml(doc: PlanDocument): string {
  const c = planCounts(doc);
  const verdicts = doc.verdicts
    .map((v) => `<li class="${v.level}"><b>${esc(v.level.toUpperCase())}</b> <i>${esc(v.topic)}</i> ${esc(v.message)}</li>`)
    .join('\n');
  const endpoints = table(
    ['role', 'name', 'address', 'reachable', 'version', 'mode', 'memory', 'maxmemory', 'rtt', 'keys'],
    doc.endpoints.map((e) => [
      e.role,
      e.name,
      e.address,
      e.reachable ? 'yes' : `no: ${e.error ?? ''}`,
      e.version ?? '--',
      e.mode ?? '--',
      e.usedMemory === null ? '--' : formatBytes(e.usedMemory),
      e.maxmemory === null ? '--' : e.maxmemory === 0 ? 'no limit' : formatBytes(e.maxmemory),
      formatMs(e.rttMs),
      formatCount(e.keyspace.reduce((n, k) => n + k.keys, 0)),
    ]),
    [9],
  );
  const sources = table(
    ['source', 'dbs', 'keys', 'memory', 'read keys/s', 'estimated'],
    doc.sources.map((s) => [
      s.name,
      s.dbs.map((d) => (d.db === d.targetDb ? `${d.db}` : `${d.db}→${d.targetDb}`)).join(', '),
      formatCount(s.keys),
      formatBytes(s.bytes),
      s.readKeysPerSec === null ? '--' : formatCount(s.readKeysPerSec),
      formatDuration(s.estimatedMs),
    ]),
    [2, 3, 4],
  );
  const types = table(
    ['type', 'keys', 'memory'],
    typeTotals(doc).map((t) => [t.type, formatCount(t.keys), formatBytes(t.bytes)]),
    [1, 2],
  );
  const ttl = ttlTotals(doc);
  const ttlTable = table(
    TTL_BUCKETS.map((b) => TTL_LABELS[b]),
    [TTL_BUCKETS.map((b) => formatCount(ttl[b]))],
    TTL_BUCKETS.map((_, i) => i),
  );
  const big = doc.bigKeys.slice(0, HTML_BIG_KEYS);
  const bigKeys = table(
    ['source', 'db', 'key', 'type', 'size', 'elements', 'strategy', 'RESTORE stall'],
    big.map((k) => [k.source, k.db, k.key, k.type, formatBytes(k.bytes), formatCount(k.elements), k.strategy, formatMs(k.restoreStallMs)]),
    [1, 4, 5, 7],
  );
  const collisions = table(
    ['kind', 'sources', 'target db', 'keys', 'identical', 'consequence'],
    doc.collisions.groups.map((g) => [g.kind, g.sources.join(', '), g.targetDb, formatCount(g.keys), formatCount(g.identical), g.consequence]),
    [2, 3, 4],
  );
  const capacity = doc.capacity;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Ferry plan: ${esc(doc.job)}</title>
<style>
body{font:13px/1.45 system-ui,sans-serif;margin:24px;color:#17202b}
h1{font-size:20px}h2{font-size:15px;margin-top:22px}
table{border-collapse:collapse;margin:6px 0}th,td{border-bottom:1px solid #d4dbe3;padding:3px 8px;text-align:left;vertical-align:top}
th{color:#5a6878;font-weight:500}.n{text-align:right;font-variant-numeric:tabular-nums}
li.blocker b{color:#c9302c}li.warn b{color:#a86700}li.ok b{color:#1d8a47}.muted{color:#5a6878}
</style></head><body>
<h1>Ferry plan: ${esc(doc.job)}</h1>
<p class="muted">${esc(formatTimestamp(doc.createdAt))} · ${doc.sample === null ? 'every selected key analysed' : `sampled ${esc(formatCount(doc.sample))} keys per source db (scaled up)`} · took ${esc(formatDuration(doc.elapsedMs))}</p>
<p><b>${esc(formatCount(doc.totals.keys))}</b> keys, <b>${esc(formatBytes(doc.totals.bytes))}</b>, estimated ${esc(formatDuration(doc.totals.estimatedMs))} · ${c.blocker} blocker(s), ${c.warn} warning(s)</p>
<h2>Verdicts</h2><ul>${verdicts}</ul>
<h2>Endpoints</h2>${endpoints}
<h2>Sources</h2>${sources}
<h2>Memory by type</h2>${types}
<h2>TTLs</h2>${ttlTable}
<h2>Big keys (${esc(formatCount(doc.bigKeys.length))})</h2>${doc.bigKeys.length > big.length ? `<p class="muted">the first ${HTML_BIG_KEYS} are listed; the JSON export holds all</p>` : ''}${bigKeys}
<h2>Collisions</h2><p>${esc(formatCount(doc.collisions.betweenSources))} between sources, ${esc(formatCount(doc.collisions.withTarget))} with the target</p>${collisions}
<h2>Capacity</h2><p>target uses ${capacity.targetUsed === null ? '--' : esc(formatBytes(capacity.targetUsed))}, plan adds ${esc(formatBytes(capacity.planned))}, maxmemory ${capacity.maxmemory === null ? '--' : capacity.maxmemory === 0 ? 'no limit' : esc(formatBytes(capacity.maxmemory))}</p>
</body></html>
`;
}
