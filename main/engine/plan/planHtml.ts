import { PROBED_COMMANDS, TTL_BUCKETS } from '../../../shared/plan.js';
import type { BigKey, CollisionGroup, DbAnalysis, EndpointFacts, PlanDocument, PrefixNode, SourceAnalysis, TtlHistogram, TypeStats, Verdict } from '../../../shared/plan.js';
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent, formatTimestamp } from '../../../shared/format.js';

/**
 * The plan as one self-contained HTML file: inline CSS and SVG, no script, nothing fetched from
 * anywhere, readable by someone who did not run the plan (light, dark and print). Every string that
 * comes from the plan goes through `escapeHtml`: keys are arbitrary bytes.
 */
export function renderPlanHtml(plan: PlanDocument): string {
  const target = plan.endpoints.find((e) => e.role === 'target');
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    '<meta name="color-scheme" content="light dark">',
    `<title>Ferry plan: ${escapeHtml(plan.job)}</title>`,
    `<style>${STYLE}</style>`,
    '</head>',
    '<body>',
    '<main>',
    headerSection(plan),
    verdictsSection(plan.verdicts),
    totalsSection(plan),
    endpointsSection(plan.endpoints),
    ...plan.sources.map((s, i) => sourceSection(s, i)),
    bigKeysSection(plan.bigKeys),
    collisionsSection(plan.collisions),
    capacitySection(plan.capacity, target),
    stagingSection(plan.staging),
    `<footer>Ferry plan document v${plan.version} · a dry run: the plan reads, it never writes.</footer>`,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// Escaping and small pieces

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/**
 * Text from the plan as HTML text or attribute value. Control characters become their visible
 * Unicode pictures (␀, ␛ …), and `://` is written `&#58;//` so that no address in the data reads
 * as a link to the network.
 */
export function escapeHtml(text: string): string {
  return text
    .replace(/[&<>"']|[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/g, (c) => ENTITIES[c] ?? String.fromCharCode(c === '\x7f' ? 0x2421 : 0x2400 + c.charCodeAt(0)))
    .replace(/:\/\//g, '&#58;//');
}

/** Long keys are cut for display (the JSON plan holds them whole). */
const MAX_KEY_CHARS = 300;

/** A key as HTML: escaped, cut when very long, marked when it is shown as hex. */
function keyHtml(key: string, keyHex: string): string {
  const hex = key.startsWith('0x') && key.slice(2) === keyHex && keyHex !== '';
  const shown = key.length > MAX_KEY_CHARS ? `${key.slice(0, MAX_KEY_CHARS)}… (${formatCount(key.length - MAX_KEY_CHARS)} more chars)` : key;
  return hex ? `<code class="hex">${escapeHtml(shown)}</code>` : `<code>${escapeHtml(shown)}</code>`;
}

const LEVEL_LABEL: Record<Verdict['level'], string> = { blocker: 'Blocker', warn: 'Warning', ok: 'OK' };
const LEVEL_ORDER: Record<Verdict['level'], number> = { blocker: 0, warn: 1, ok: 2 };

/** The types Redis has, in a fixed order with a fixed colour each; anything else is "other". */
const KNOWN_TYPES = ['string', 'hash', 'list', 'set', 'zset', 'stream'];
const typeClass = (type: string) => (KNOWN_TYPES.includes(type) ? `t-${type}` : 't-other');

const TTL_LABEL: Record<keyof TtlHistogram, string> = {
  none: 'no TTL',
  lt1h: '< 1 hour',
  lt1d: '1 hour – 1 day',
  lt7d: '1 – 7 days',
  longer: '> 7 days',
  expired: 'already expired',
};

/** Memory with its limit: `0` is no limit, `null` could not be read. */
function formatLimit(maxmemory: number | null): string {
  if (maxmemory === null) return 'unknown';
  return maxmemory === 0 ? 'no limit' : formatBytes(maxmemory);
}

function section(id: string, title: string, body: string, note = ''): string {
  return `<section id="${id}">\n<h2>${title}${note ? ` <small>${note}</small>` : ''}</h2>\n${body}\n</section>`;
}

function table(head: string[], rows: string[], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${h}</th>`).join('')}</tr></thead><tbody>\n${rows.join('\n')}\n</tbody></table>`;
}

function row(cells: string[], cls = ''): string {
  return `<tr${cls ? ` class="${cls}"` : ''}>${cells.map((c) => `<td>${c}</td>`).join('')}</tr>`;
}

/** A thin inline bar for a share (0..1) inside a table cell. */
function meter(share: number): string {
  const pct = Math.max(0, Math.min(100, share * 100));
  return `<span class="meter"><i style="width:${pct.toFixed(1)}%"></i></span>`;
}

// ---------------------------------------------------------------------------------------------
// The one chart helper: horizontal bars, optionally stacked, optionally with a limit line.

interface ChartSegment {
  value: number;
  /** CSS class giving the segment its colour. */
  cls: string;
  /** Tooltip, plain text. */
  title?: string;
}

interface ChartBar {
  label: string;
  segments: ChartSegment[];
  /** Text right of the bar (plain text, escaped here). */
  note: string;
  noteCls?: string;
  /** A vertical mark at this value (a memory limit). */
  limit?: number | null;
}

interface ChartOptions {
  /** Accessible name of the chart. */
  title: string;
  width?: number;
  labelWidth?: number;
  noteWidth?: number;
}

const ROW_HEIGHT = 22;
const BAR_HEIGHT = 14;
/** Roughly the width of one character of the 12 px chart font. */
const CHAR_WIDTH = 6.8;

function clipLabel(label: string, width: number): string {
  const max = Math.max(4, Math.floor(width / CHAR_WIDTH));
  return label.length > max ? `${label.slice(0, max - 1)}…` : label;
}

/** Horizontal bar chart as inline SVG. Colours come from CSS classes, so it follows light/dark. */
export function svgBarChart(bars: ChartBar[], options: ChartOptions): string {
  if (bars.length === 0) return '<p class="muted">Nothing to draw.</p>';
  const width = options.width ?? 420;
  const labelWidth = options.labelWidth ?? 110;
  const noteWidth = options.noteWidth ?? 120;
  const barX = labelWidth;
  const barWidth = width - labelWidth - noteWidth - 8;
  const height = bars.length * ROW_HEIGHT + 4;
  const max = Math.max(1, ...bars.map((b) => Math.max(b.segments.reduce((s, x) => s + Math.max(0, x.value), 0), b.limit ?? 0)));
  const scale = (v: number) => (Math.max(0, v) / max) * barWidth;
  const parts = bars.map((bar, i) => {
    const y = i * ROW_HEIGHT + 2;
    const mid = y + ROW_HEIGHT / 2;
    const label = clipLabel(bar.label, labelWidth - 8);
    let x = barX;
    const rects = bar.segments.map((seg) => {
      const w = scale(seg.value);
      const rect = `<rect class="${seg.cls}" x="${x.toFixed(1)}" y="${(mid - BAR_HEIGHT / 2).toFixed(1)}" width="${Math.max(w, seg.value > 0 ? 1 : 0).toFixed(1)}" height="${BAR_HEIGHT}">${seg.title ? `<title>${escapeHtml(seg.title)}</title>` : ''}</rect>`;
      x += w;
      return rect;
    });
    const limit = bar.limit && bar.limit > 0 ? `<line class="limit" x1="${(barX + scale(bar.limit)).toFixed(1)}" x2="${(barX + scale(bar.limit)).toFixed(1)}" y1="${y + 1}" y2="${y + ROW_HEIGHT - 1}"/>` : '';
    return (
      `<g><title>${escapeHtml(`${bar.label}: ${bar.note}`)}</title>` +
      `<text x="${labelWidth - 8}" y="${mid + 4}" text-anchor="end">${escapeHtml(label)}</text>` +
      `<rect class="track" x="${barX}" y="${(mid - BAR_HEIGHT / 2).toFixed(1)}" width="${barWidth}" height="${BAR_HEIGHT}"/>` +
      rects.join('') +
      limit +
      `<text x="${(barX + barWidth + 8).toFixed(1)}" y="${mid + 4}"${bar.noteCls ? ` class="${bar.noteCls}"` : ''}>${escapeHtml(clipLabel(bar.note, noteWidth))}</text></g>`
    );
  });
  return `<svg class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(options.title)}">${parts.join('')}</svg>`;
}

function figure(caption: string, svg: string): string {
  return `<figure><figcaption>${caption}</figcaption>${svg}</figure>`;
}

// ---------------------------------------------------------------------------------------------
// Header, verdicts, totals

function headerSection(plan: PlanDocument): string {
  const scope =
    plan.sample === null
      ? 'complete: every selected key analysed'
      : `sampled: ${formatCount(plan.sample)} keys per source db, the rest extrapolated`;
  const links = [
    ['verdicts', 'Verdicts'],
    ['endpoints', 'Endpoints'],
    ...plan.sources.map((s, i) => [`source-${i}`, `Source ${escapeHtml(s.name)}`]),
    ['big-keys', 'Big keys'],
    ['collisions', 'Collisions'],
    ['capacity', 'Capacity'],
    ['staging', 'Staging'],
  ];
  return (
    `<header>\n<h1>Ferry plan <span class="job">${escapeHtml(plan.job)}</span></h1>\n` +
    `<p class="meta"><span>Created ${escapeHtml(formatTimestamp(plan.createdAt))}</span>` +
    `<span class="${plan.sample === null ? 'complete' : 'sampled'}">${scope}</span>` +
    `<span>analysis took ${escapeHtml(formatMs(plan.elapsedMs))}</span></p>\n` +
    `<nav>${links.map(([id, text]) => `<a href="#${id}">${text}</a>`).join('')}</nav>\n</header>`
  );
}

function verdictsSection(verdicts: Verdict[]): string {
  const sorted = verdicts.map((v, i) => ({ v, i })).sort((a, b) => LEVEL_ORDER[a.v.level] - LEVEL_ORDER[b.v.level] || a.i - b.i);
  const count = (level: Verdict['level']) => verdicts.filter((v) => v.level === level).length;
  const blockers = count('blocker');
  const warnings = count('warn');
  const headline =
    blockers > 0
      ? `<p class="headline blocker">Not ready: ${blockers} blocker${blockers === 1 ? '' : 's'}${warnings ? `, ${warnings} warning${warnings === 1 ? '' : 's'}` : ''}. The move cannot start as the job stands.</p>`
      : warnings > 0
        ? `<p class="headline warn">Ready, with ${warnings} warning${warnings === 1 ? '' : 's'} to read first.</p>`
        : '<p class="headline ok">Ready: nothing stands in the way.</p>';
  const items = sorted.map(
    ({ v }) => `<li class="verdict ${v.level}"><span class="level">${LEVEL_LABEL[v.level]}</span><span class="topic">${escapeHtml(v.topic)}</span><span class="msg">${escapeHtml(v.message)}</span></li>`,
  );
  return section('verdicts', 'Verdicts', `${headline}\n<ul class="verdicts">\n${items.join('\n')}\n</ul>`);
}

function totalsSection(plan: PlanDocument): string {
  const estimated = plan.sample === null ? '' : '<small>extrapolated from the sample</small>';
  const collisions = plan.collisions.betweenSources + plan.collisions.withTarget;
  const cards = [
    ['Keys', formatCount(plan.totals.keys), estimated],
    ['Memory', formatBytes(plan.totals.bytes), estimated],
    ['Estimated duration', plan.totals.estimatedMs === null ? 'unknown' : formatDuration(plan.totals.estimatedMs), '<small>bulk copy, at the measured read rate</small>'],
    ['Sources', formatCount(plan.sources.length), ''],
    ['Big keys', formatCount(plan.bigKeys.length), `<small>${formatBytes(plan.bigKeys.reduce((s, k) => s + k.bytes, 0))}</small>`],
    ['Collisions', formatCount(collisions), `<small>${formatCount(plan.collisions.betweenSources)} between sources, ${formatCount(plan.collisions.withTarget)} with target</small>`],
  ];
  return `<section id="totals" class="cards">\n${cards.map(([k, v, n]) => `<div class="card"><div class="k">${k}</div><div class="v">${v}</div>${n}</div>`).join('\n')}\n</section>`;
}

// ---------------------------------------------------------------------------------------------
// Endpoints

function endpointsSection(endpoints: EndpointFacts[]): string {
  const head = ['Endpoint', 'Reachable', 'Version', 'Mode', 'Memory', 'Keyspace', 'Keyspace events'];
  const rows = endpoints.flatMap((e) => [row(endpointCells(e), e.reachable ? 'ep' : 'ep down'), `<tr class="ep-detail"><td colspan="${head.length}">${endpointDetail(e)}</td></tr>`]);
  return section('endpoints', 'Endpoints', table(head, rows, 'endpoints'));
}

function endpointCells(e: EndpointFacts): string[] {
  const name = `<span class="role ${e.role}">${e.role}</span> <b>${escapeHtml(e.name)}</b><br><code>${escapeHtml(e.address)}</code>`;
  const reach = e.reachable
    ? `<span class="yes">reachable</span><br>RTT ${escapeHtml(formatMs(e.rttMs))}`
    : `<span class="no">unreachable</span>${e.error ? `<br><span class="err">${escapeHtml(e.error)}</span>` : ''}`;
  const version = e.version === null ? '<span class="muted">unknown</span>' : `Redis ${escapeHtml(e.version)}`;
  const rdb = e.rdbVersion === null ? '' : `<br>RDB ${e.rdbVersion}`;
  const mode = e.mode === null ? '<span class="muted">unknown</span>' : e.mode === 'cluster' ? `cluster<br>${formatCount(e.nodes.length)} master${e.nodes.length === 1 ? '' : 's'}` : 'standalone';
  const used = e.usedMemory === null ? 'unknown' : formatBytes(e.usedMemory);
  const share = e.usedMemory !== null && e.maxmemory ? ` (${formatPercent(e.usedMemory, e.maxmemory)})` : '';
  const memory = e.usedMemory === null && e.maxmemory === null ? '<span class="muted">unknown</span>' : `${used}${e.maxmemory === 0 ? ', no limit' : ` of ${formatLimit(e.maxmemory)}`}${share}${e.maxmemoryPolicy ? `<br><span class="muted">${escapeHtml(e.maxmemoryPolicy)}</span>` : ''}`;
  const keyspace = e.keyspace.length
    ? e.keyspace.map((k) => `<span class="nw">db${k.db}: ${formatCount(k.keys)} keys</span>${k.expires ? ` <span class="nw muted">${formatCount(k.expires)} expiring</span>` : ''}`).join('<br>')
    : '<span class="muted">empty</span>';
  const notify = e.notifyKeyspaceEvents === null ? '<span class="muted">unknown (CONFIG refused)</span>' : e.notifyKeyspaceEvents === '' ? '<span class="muted">off</span>' : `<code>${escapeHtml(e.notifyKeyspaceEvents)}</code>`;
  return [name, reach, version + rdb, mode, memory, keyspace, notify];
}

function endpointDetail(e: EndpointFacts): string {
  const names = [...PROBED_COMMANDS.filter((c) => c in e.commands), ...Object.keys(e.commands).filter((c) => !(PROBED_COMMANDS as readonly string[]).includes(c))];
  const badges = names.length
    ? names.map((c) => `<span class="badge ${e.commands[c]}" title="${e.commands[c]}">${escapeHtml(c)}</span>`).join('')
    : '<span class="muted">not probed</span>';
  const nodes = e.nodes.length
    ? `<div class="nodes"><span class="label">Nodes</span>${e.nodes
        .map((n) => `<span class="node"><code>${escapeHtml(n.address)}</code> ${formatCount(n.slots)} slots${n.usedMemory === null ? '' : `, ${formatBytes(n.usedMemory)} of ${formatLimit(n.maxmemory)}`}</span>`)
        .join('')}</div>`
    : '';
  const decisions = e.decisions.length ? `<ul class="decisions">${e.decisions.map((d) => `<li>${escapeHtml(d)}</li>`).join('')}</ul>` : '';
  return `<div class="commands"><span class="label">Commands</span>${badges}</div>${nodes}${decisions}`;
}

// ---------------------------------------------------------------------------------------------
// Sources

function sourceSection(source: SourceAnalysis, index: number): string {
  const rate = source.readKeysPerSec === null ? 'read rate not measured' : `${formatCount(source.readKeysPerSec)} keys/s read`;
  const note = `${formatCount(source.keys)} keys · ${formatBytes(source.bytes)} · ${rate} · estimated ${source.estimatedMs === null ? 'unknown' : formatDuration(source.estimatedMs)}`;
  const types = sumTypes(source.dbs);
  const body = [
    dbTable(source),
    '<div class="charts">',
    figure('Memory by type', typeChart(types, 'bytes', `Memory by type, source ${source.name}`)),
    figure('Keys by type', typeChart(types, 'keys', `Keys by type, source ${source.name}`)),
    figure('TTL', ttlChart(sumTtl(source.dbs), `TTL histogram, source ${source.name}`)),
    '</div>',
    '<div class="two">',
    prefixTable('Heaviest prefixes by memory', source.heaviestByBytes, source, 'bytes'),
    prefixTable('Heaviest prefixes by key count', source.heaviestByCount, source, 'keys'),
    '</div>',
    '<h3>Prefix tree</h3>',
    source.prefixTree.length ? prefixTree(source.prefixTree, source, 1) : '<p class="muted">No key has a <code>:</code> prefix.</p>',
  ].join('\n');
  return section(`source-${index}`, `Source <span class="name">${escapeHtml(source.name)}</span>`, body, note);
}

function dbTable(source: SourceAnalysis): string {
  const head = ['DB', 'Keys in db', 'Selected', 'Memory', 'Analysed', 'With TTL', 'Memory measured by'];
  const rows = source.dbs.map((d) => {
    const ttlKeys = TTL_BUCKETS.reduce((s, b) => s + d.ttl[b], 0);
    return row(
      [
        `db${d.db} → db${d.targetDb}`,
        formatCount(d.keysInDb),
        formatCount(d.keys),
        formatBytes(d.bytes),
        `${formatCount(d.analysed)} <span class="muted">(${formatPercent(d.analysed, d.keys)})</span>`,
        formatPercent(ttlKeys - d.ttl.none, ttlKeys),
        d.memorySource === 'memory-usage' ? 'MEMORY USAGE' : 'DUMP length (estimate)',
      ],
      'num',
    );
  });
  return table(head, rows, 'dbs');
}

function sumTypes(dbs: DbAnalysis[]): TypeStats {
  const total: TypeStats = {};
  for (const d of dbs) {
    for (const [type, s] of Object.entries(d.types)) {
      const t = (total[type] ??= { keys: 0, bytes: 0 });
      t.keys += s.keys;
      t.bytes += s.bytes;
    }
  }
  return total;
}

function sumTtl(dbs: DbAnalysis[]): TtlHistogram {
  const total: TtlHistogram = { none: 0, lt1h: 0, lt1d: 0, lt7d: 0, longer: 0, expired: 0 };
  for (const d of dbs) for (const b of TTL_BUCKETS) total[b] += d.ttl[b];
  return total;
}

function typeChart(types: TypeStats, by: 'keys' | 'bytes', title: string): string {
  const entries = Object.entries(types).sort((a, b) => b[1][by] - a[1][by]);
  const whole = entries.reduce((s, [, t]) => s + t[by], 0);
  const bars = entries.map(([type, t]) => {
    const value = by === 'bytes' ? formatBytes(t.bytes) : formatCount(t.keys);
    return { label: type, segments: [{ value: t[by], cls: typeClass(type) }], note: `${value} (${formatPercent(t[by], whole)})` };
  });
  return svgBarChart(bars, { title, width: 380, labelWidth: 70, noteWidth: 120 });
}

function ttlChart(ttl: TtlHistogram, title: string): string {
  const whole = TTL_BUCKETS.reduce((s, b) => s + ttl[b], 0);
  const bars = TTL_BUCKETS.map((b) => ({
    label: TTL_LABEL[b],
    segments: [{ value: ttl[b], cls: `ttl-${b}` }],
    note: `${formatCount(ttl[b])} (${formatPercent(ttl[b], whole)})`,
  }));
  return svgBarChart(bars, { title, width: 380, labelWidth: 110, noteWidth: 110 });
}

function prefixTable(title: string, stats: Array<{ prefix: string; keys: number; bytes: number }>, source: SourceAnalysis, by: 'keys' | 'bytes'): string {
  if (stats.length === 0) return `<div><h3>${title}</h3><p class="muted">None.</p></div>`;
  const whole = by === 'bytes' ? source.bytes : source.keys;
  const rows = stats.map((p) =>
    row([`<code>${escapeHtml(p.prefix)}</code>`, formatBytes(p.bytes), formatCount(p.keys), `${meter(whole ? p[by] / whole : 0)} ${formatPercent(p[by], whole)}`]),
  );
  return `<div><h3>${title}</h3>${table(['Prefix', 'Memory', 'Keys', `Share of ${by === 'bytes' ? 'memory' : 'keys'}`], rows, 'prefixes')}</div>`;
}

/** Children shown per tree node; the rest are summed in one line. */
const TREE_CHILDREN = 25;
const TREE_DEPTH = 3;

function prefixTree(nodes: PrefixNode[], source: SourceAnalysis, depth: number): string {
  const shown = nodes.slice(0, TREE_CHILDREN);
  const rest = nodes.slice(TREE_CHILDREN);
  const items = shown.map((n) => {
    const children = depth < TREE_DEPTH && n.children.length ? prefixTree(n.children, source, depth + 1) : '';
    return `<li><code>${escapeHtml(n.prefix)}</code> <span class="muted">${formatBytes(n.bytes)} · ${formatCount(n.keys)} keys · ${formatPercent(n.bytes, source.bytes)}</span>${children}</li>`;
  });
  if (rest.length) {
    const keys = rest.reduce((s, n) => s + n.keys, 0);
    const bytes = rest.reduce((s, n) => s + n.bytes, 0);
    items.push(`<li class="muted">… ${formatCount(rest.length)} more prefixes: ${formatBytes(bytes)} · ${formatCount(keys)} keys</li>`);
  }
  return `<ul class="tree">${items.join('')}</ul>`;
}

// ---------------------------------------------------------------------------------------------
// Big keys, collisions, capacity, staging

/** A stall worth a colour: over 100 ms amber, over 1 s red. */
function stallClass(ms: number): string {
  return ms >= 1000 ? ' class="s2"' : ms >= 100 ? ' class="s1"' : '';
}

function bigKeysSection(bigKeys: BigKey[]): string {
  if (bigKeys.length === 0) return section('big-keys', 'Big keys', '<p class="muted">No big keys: every key moves with one plain RESTORE.</p>');
  const sorted = [...bigKeys].sort((a, b) => b.bytes - a.bytes);
  const total = sorted.reduce((s, k) => s + k.bytes, 0);
  const worst = sorted.reduce((m, k) => Math.max(m, k.restoreStallMs), 0);
  const strategies = new Map<string, number>();
  for (const k of sorted) strategies.set(k.strategy, (strategies.get(k.strategy) ?? 0) + 1);
  const summary =
    `<p>${formatCount(sorted.length)} big keys, ${formatBytes(total)} in all. A plain RESTORE of the largest would stall the target for about ${escapeHtml(formatMs(worst))}. ` +
    `Strategies: ${[...strategies].map(([s, n]) => `<b>${escapeHtml(s)}</b> ${formatCount(n)}`).join(', ')}.</p>`;
  // Lean rows: one line per key, classes only where a cell needs colour.
  const rows = sorted.map(
    (k) =>
      `<tr><td>${escapeHtml(k.source)}</td><td>${k.db}</td><td>${keyHtml(k.key, k.keyHex)}</td><td>${escapeHtml(k.type)}</td><td>${formatBytes(k.bytes)}</td><td>${formatCount(k.elements)}</td><td>${escapeHtml(k.strategy)}</td><td${stallClass(k.restoreStallMs)}>${formatMs(k.restoreStallMs)}</td></tr>`,
  );
  const body = `${summary}\n<div class="scroll">${table(['Source', 'DB', 'Key', 'Type', 'Size', 'Elements', 'Strategy', 'RESTORE stall (est.)'], rows, 'bigkeys')}</div>`;
  return section('big-keys', 'Big keys', body, `${formatCount(sorted.length)}, largest first`);
}

function collisionsSection(c: PlanDocument['collisions']): string {
  const summary =
    `<p><b>${formatCount(c.betweenSources)}</b> keys would be written by more than one source; ` +
    `<b>${formatCount(c.withTarget)}</b> selected keys already exist on the target.</p>`;
  if (c.groups.length === 0) return section('collisions', 'Collisions', `${summary}\n<p class="muted">No collisions.</p>`);
  const rows = c.groups.map((g) => collisionRow(g));
  return section('collisions', 'Collisions', `${summary}\n${table(['Kind', 'Sources', 'Target db', 'Keys', 'Identical', 'Conflicting', 'Consequence', 'Samples'], rows, 'collisions')}`);
}

/** Samples shown per collision group. */
const COLLISION_SAMPLES = 8;

function collisionRow(g: CollisionGroup): string {
  const conflicting = g.keys - g.identical;
  const samples = g.samples
    .slice(0, COLLISION_SAMPLES)
    .map((s) => `<li>${keyHtml(s.key, s.keyHex)}${s.identical ? ' <span class="muted">same value</span>' : ''}</li>`)
    .join('');
  const more = g.samples.length > COLLISION_SAMPLES ? `<li class="muted">… ${formatCount(g.samples.length - COLLISION_SAMPLES)} more samples</li>` : '';
  return row([
    g.kind === 'between-sources' ? 'between sources' : 'with target',
    g.sources.map(escapeHtml).join(', '),
    `db${g.targetDb}`,
    formatCount(g.keys),
    formatCount(g.identical),
    conflicting > 0 ? `<span class="no">${formatCount(conflicting)}</span>` : '0',
    escapeHtml(g.consequence),
    `<ul class="samples">${samples}${more}</ul>`,
  ]);
}

function capacityBar(label: string, used: number | null, planned: number, maxmemory: number | null): ChartBar {
  const now = used ?? 0;
  const after = now + planned;
  const limited = maxmemory !== null && maxmemory > 0;
  const note = limited ? `${formatBytes(after)} of ${formatBytes(maxmemory)} (${formatPercent(after, maxmemory)})` : `${formatBytes(after)}, ${formatLimit(maxmemory)}`;
  // What the plan adds beyond maxmemory is drawn in red.
  const over = limited ? Math.min(planned, Math.max(0, after - maxmemory)) : 0;
  return {
    label,
    segments: [
      { value: now, cls: 'used', title: `in use now: ${used === null ? 'unknown' : formatBytes(used)}` },
      { value: planned - over, cls: 'planned', title: `planned: ${formatBytes(planned)}` },
      { value: over, cls: 'overflow', title: `over maxmemory by ${formatBytes(after - (maxmemory ?? 0))}` },
    ],
    note,
    noteCls: limited && after > maxmemory ? 'over' : limited && after > maxmemory * 0.9 ? 'near' : undefined,
    limit: maxmemory,
  };
}

function capacitySection(cap: PlanDocument['capacity'], target: EndpointFacts | undefined): string {
  const after = (cap.targetUsed ?? 0) + cap.planned;
  const text =
    `<p>The target uses <b>${cap.targetUsed === null ? 'an unknown amount' : formatBytes(cap.targetUsed)}</b>; the move adds about <b>${formatBytes(cap.planned)}</b>, ` +
    `<b>${formatBytes(after)}</b> in all, against a maxmemory of <b>${formatLimit(cap.maxmemory)}</b>` +
    `${cap.maxmemory ? ` (${formatPercent(after, cap.maxmemory)})` : ''}${target?.maxmemoryPolicy ? `, policy <code>${escapeHtml(target.maxmemoryPolicy)}</code>` : ''}.</p>`;
  const legend = '<p class="legend"><span class="sw used"></span>in use now <span class="sw planned"></span>planned <span class="sw overflow"></span>over maxmemory <span class="sw limit"></span>maxmemory</p>';
  const options = { width: 760, labelWidth: 170, noteWidth: 200 };
  const whole = svgBarChart([capacityBar(target?.name ?? 'target', cap.targetUsed, cap.planned, cap.maxmemory)], { ...options, title: 'Target memory: in use and planned, against maxmemory' });
  // Masters on their own scale: next to the whole cluster they would be slivers.
  const nodes = cap.perNode.length
    ? figure('Per master, by the hash slots of the planned keys', svgBarChart(cap.perNode.map((n) => capacityBar(n.address, n.used, n.planned, n.maxmemory)), { ...options, title: 'Memory per cluster master: in use and planned, against maxmemory' }))
    : '';
  const body = `${text}\n${legend}\n${figure('Whole target', whole)}${nodes ? `\n${nodes}` : ''}`;
  return section('capacity', 'Capacity', body, cap.perNode.length ? `cluster, ${formatCount(cap.perNode.length)} masters` : '');
}

function stagingSection(staging: PlanDocument['staging']): string {
  if (staging.length === 0) return section('staging', 'Staging', '<p class="muted">No staging replicas in this job: sources are read directly.</p>');
  const rows = staging.map((s) => {
    const status =
      s.freeBytes === null ? '<span class="muted">free space unknown</span>' : s.freeBytes >= s.bytesNeeded ? '<span class="yes">enough space</span>' : `<span class="no">short by ${formatBytes(s.bytesNeeded - s.freeBytes)}</span>`;
    return row([escapeHtml(s.source), `<code>${escapeHtml(s.dir)}</code>`, formatBytes(s.bytesNeeded), s.freeBytes === null ? 'unknown' : formatBytes(s.freeBytes), status]);
  });
  return section('staging', 'Staging', table(['Source', 'Directory', 'Needed', 'Free', 'Status'], rows, 'staging'));
}

// ---------------------------------------------------------------------------------------------
// Style: light by default, dark on screens that ask for it, plain on paper.

const STYLE = `
:root{--bg:#fff;--fg:#1d2127;--muted:#5d6673;--line:#dde2e8;--panel:#f5f7fa;--accent:#2f6fdf;
--red:#b42318;--red-bg:#fdecea;--amber:#935400;--amber-bg:#fff3dc;--green:#17743a;--green-bg:#e5f4ea;
--used:#8a94a3;--planned:#3b7be0;--track:#eef1f5;
--string:#3b7be0;--hash:#8b5cf6;--list:#0e9f8e;--set:#e07b39;--zset:#d6457a;--stream:#6b8e23;--other:#8a94a3}
@media screen and (prefers-color-scheme:dark){:root{--bg:#121519;--fg:#e3e6ea;--muted:#98a2ae;--line:#2c323a;--panel:#1a1f26;--accent:#79a7ff;
--red:#ff7b72;--red-bg:#3b1c1c;--amber:#f2b350;--amber-bg:#382a12;--green:#5fd08f;--green-bg:#14301f;--used:#6b7482;--planned:#5b94f0;--track:#232932}}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
main{max-width:1240px;margin:0 auto;padding:24px 20px 40px}
h1{font-size:24px;margin:0 0 4px}h1 .job{color:var(--accent)}
h2{font-size:19px;margin:32px 0 10px;padding-bottom:4px;border-bottom:1px solid var(--line)}
h2 small{font-size:13px;font-weight:normal;color:var(--muted);margin-left:8px}
h3{font-size:15px;margin:18px 0 6px}
code{font:12.5px/1.35 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;overflow-wrap:anywhere}
code.hex{color:var(--muted)}
.muted{color:var(--muted)}
.meta{margin:0 0 10px;color:var(--muted)}.meta span+span::before{content:"·";margin:0 8px}
.meta .sampled{color:var(--amber)}.meta .complete{color:var(--green)}
nav a{color:var(--accent);text-decoration:none;margin-right:14px;font-size:13px}
.headline{font-weight:600;padding:10px 14px;border-radius:6px;margin:0 0 10px}
.headline.blocker{background:var(--red-bg);color:var(--red)}.headline.warn{background:var(--amber-bg);color:var(--amber)}.headline.ok{background:var(--green-bg);color:var(--green)}
ul.verdicts{list-style:none;margin:0;padding:0}
.verdict{display:grid;grid-template-columns:84px 110px 1fr;gap:10px;align-items:baseline;padding:7px 12px;border-left:4px solid;margin-bottom:4px;background:var(--panel);border-radius:0 4px 4px 0}
.verdict .level{font-weight:700;font-size:12px;text-transform:uppercase;letter-spacing:.03em}
.verdict .topic{font-size:12.5px;color:var(--muted)}
.verdict.blocker{border-color:var(--red)}.verdict.blocker .level{color:var(--red)}
.verdict.warn{border-color:var(--amber)}.verdict.warn .level{color:var(--amber)}
.verdict.ok{border-color:var(--green)}.verdict.ok .level{color:var(--green)}
.cards{display:grid;grid-template-columns:repeat(6,1fr);gap:10px;margin-top:20px}
.card{background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:10px 12px}
.card .k{font-size:12px;color:var(--muted);text-transform:uppercase;letter-spacing:.03em}
.card .v{font-size:22px;font-weight:650;font-variant-numeric:tabular-nums}
.card small{color:var(--muted);font-size:12px}
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}
th{text-align:left;font-size:12px;color:var(--muted);font-weight:600;border-bottom:2px solid var(--line);padding:5px 8px;background:var(--bg)}
td{border-bottom:1px solid var(--line);padding:5px 8px;vertical-align:top}
table.dbs :is(td,th):not(:first-child),table.prefixes :is(td,th):nth-child(2),table.prefixes :is(td,th):nth-child(3),table.bigkeys :is(td,th):nth-child(n+5):not(:nth-child(7)),table.bigkeys :is(td,th):nth-child(2),table.staging :is(td,th):nth-child(3),table.staging :is(td,th):nth-child(4),table.collisions :is(td,th):nth-child(n+3):nth-child(-n+6){text-align:right;white-space:nowrap}
table.endpoints td:nth-child(3),table.endpoints td:nth-child(4),table.endpoints td:nth-child(5){white-space:nowrap}
table.endpoints td:first-child{min-width:220px}
.nw{white-space:nowrap}
table.endpoints td{border-bottom:none}
table.endpoints tr.ep td{border-top:1px solid var(--line);padding-top:8px}
tr.ep.down td:first-child{box-shadow:inset 3px 0 var(--red)}
tr.ep-detail td{padding-top:0;padding-bottom:10px;font-size:13px}
.role{display:inline-block;font-size:11px;text-transform:uppercase;border-radius:3px;padding:0 5px;background:var(--panel);border:1px solid var(--line)}
.role.target{color:var(--accent)}
.yes{color:var(--green)}.no,.err{color:var(--red)}
.label{font-size:12px;color:var(--muted);margin-right:8px}
.commands,.nodes{margin:2px 0}
.badge{display:inline-block;font:11px/1.6 ui-monospace,Menlo,Consolas,monospace;border-radius:3px;padding:0 5px;margin:0 4px 2px 0;border:1px solid}
.badge.allowed{color:var(--green);background:var(--green-bg);border-color:transparent}
.badge.refused{color:var(--red);background:var(--red-bg);border-color:transparent;text-decoration:line-through}
.badge.unknown{color:var(--muted);border-color:var(--line)}
.node{display:inline-block;margin-right:14px;font-size:12.5px}
ul.decisions{margin:4px 0 0;padding-left:18px}
.charts{display:grid;grid-template-columns:repeat(3,1fr);gap:12px;margin:14px 0;align-items:start}
#capacity figure{max-width:800px;margin-bottom:10px}
figure{margin:0;background:var(--panel);border:1px solid var(--line);border-radius:6px;padding:8px 10px}
figcaption{font-size:12px;color:var(--muted);font-weight:600;margin-bottom:4px}
svg.chart{max-width:100%;height:auto;display:block}
svg.chart text{fill:var(--fg);font:12px system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
svg.chart text.over{fill:var(--red);font-weight:700}svg.chart text.near{fill:var(--amber);font-weight:700}
svg.chart .track{fill:var(--track)}svg.chart .limit{stroke:var(--fg);stroke-width:2}
.t-string{fill:var(--string)}.t-hash{fill:var(--hash)}.t-list{fill:var(--list)}.t-set{fill:var(--set)}.t-zset{fill:var(--zset)}.t-stream{fill:var(--stream)}.t-other{fill:var(--other)}
.ttl-none{fill:var(--used)}.ttl-lt1h{fill:var(--set)}.ttl-lt1d{fill:var(--string)}.ttl-lt7d{fill:var(--list)}.ttl-longer{fill:var(--hash)}.ttl-expired{fill:var(--red)}
svg .used{fill:var(--used)}svg .planned{fill:var(--planned)}svg .overflow{fill:var(--red)}
.legend{font-size:12px;color:var(--muted)}.sw{display:inline-block;width:10px;height:10px;margin:0 4px 0 10px;vertical-align:-1px}
.sw.used{background:var(--used)}.sw.planned{background:var(--planned)}.sw.overflow{background:var(--red)}.sw.limit{width:3px;background:var(--fg)}
.two{display:grid;grid-template-columns:1fr 1fr;gap:20px}
.meter{display:inline-block;width:60px;height:8px;background:var(--track);border-radius:2px;vertical-align:0;margin-right:4px}
.meter i{display:block;height:100%;background:var(--accent);border-radius:2px}
ul.tree{list-style:none;margin:0;padding-left:18px;border-left:1px dotted var(--line)}
section>ul.tree{padding-left:4px;border-left:none;columns:2;column-gap:28px}
ul.tree li{margin:2px 0;break-inside:avoid}
.scroll{max-height:640px;overflow:auto;border:1px solid var(--line);border-radius:4px}
.scroll thead th{position:sticky;top:0;z-index:1}
table.bigkeys td{padding:3px 8px}
table.bigkeys td.s1{color:var(--amber);font-weight:600}table.bigkeys td.s2{color:var(--red);font-weight:700}
ul.samples{margin:0;padding-left:16px}
footer{margin-top:36px;color:var(--muted);font-size:12px}
@media (max-width:1000px){.cards{grid-template-columns:repeat(3,1fr)}.charts{grid-template-columns:1fr 1fr}.two{grid-template-columns:1fr}}
@media print{body{font-size:11px;-webkit-print-color-adjust:exact;print-color-adjust:exact}main{max-width:none;padding:0}nav{display:none}
.scroll{max-height:none;overflow:visible;border:none}.scroll thead th{position:static}thead{display:table-header-group}
tr,figure,.card,.verdict,li{break-inside:avoid}h2,h3{break-after:avoid}section>ul.tree{columns:1}}
`;
