import { writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PlanDocument, type BigKey, type PrefixNode } from '../../shared/plan.js';
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent, formatTimestamp } from '../../shared/format.js';
import * as cliFormat from '../../main/cli/format.js';
import { escapeHtml, renderPlanHtml } from '../../main/engine/plan/planHtml.js';
import { formatPlanSummary } from '../../main/cli/planSummary.js';

const MALICIOUS_KEY = '<script>alert(1)</script>&co:"quoted"';
const HEX_KEY = 'deadbeef00ff10';

/** Deterministic numbers in [0, 1). */
function random(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

const GB = 1024 ** 3;
const MB = 1024 ** 2;

function node(prefix: string, keys: number, bytes: number, children: PrefixNode[] = []): PrefixNode {
  return { prefix, keys, bytes, children };
}

function bigKeys(count: number): BigKey[] {
  const rnd = random(7);
  const types = ['hash', 'zset', 'list', 'set', 'string', 'stream'];
  const keys: BigKey[] = [];
  for (let i = 0; i < count; i++) {
    const type = types[Math.floor(rnd() * types.length)];
    const bytes = Math.round(8 * MB + rnd() ** 4 * 900 * MB);
    const elements = type === 'string' ? 1 : Math.round(bytes / (40 + rnd() * 80));
    const binary = i % 250 === 3;
    const hex = binary ? `${HEX_KEY}${i.toString(16).padStart(4, '0')}` : '';
    const key = binary ? `0x${hex}` : `${type === 'zset' ? 'leaderboard' : type === 'stream' ? 'events' : 'user'}:${1000 + i}:${type === 'hash' ? 'profile' : 'items'}`;
    keys.push({
      source: i % 3 === 0 ? 'idc-02' : 'idc-01',
      db: i % 5 === 0 ? 3 : 0,
      key,
      keyHex: binary ? hex : Buffer.from(key).toString('hex'),
      type,
      bytes,
      elements,
      strategy: bytes > 64 * MB ? 'chunked into a same-slot temp key + RENAME' : 'chunked',
      restoreStallMs: Math.round(bytes / (300 * 1024)),
    });
  }
  keys.push({
    source: 'idc-01',
    db: 0,
    key: MALICIOUS_KEY,
    keyHex: Buffer.from(MALICIOUS_KEY).toString('hex'),
    type: 'string',
    bytes: 2 * GB,
    elements: 1,
    strategy: 'chunked',
    restoreStallMs: 6800,
  });
  return keys;
}

/** A plan like the one of a 3-server merge into a 3-master cluster, with one node too small. */
function examplePlan(bigKeyCount = 3000): PlanDocument {
  const allowed = { SYNC: 'allowed', PSYNC: 'allowed', REPLICAOF: 'allowed', CONFIG: 'allowed', DUMP: 'allowed', RESTORE: 'allowed', MEMORY: 'allowed', SCAN: 'allowed', MIGRATE: 'allowed' } as const;
  const managed = { ...allowed, SYNC: 'refused', PSYNC: 'refused', REPLICAOF: 'refused', CONFIG: 'refused', MIGRATE: 'unknown' } as const;
  const nodes = [
    { address: '10.1.0.1:6379', slots: 5461, usedMemory: 1.2 * GB, maxmemory: 8 * GB },
    { address: '10.1.0.2:6379', slots: 5462, usedMemory: 2.9 * GB, maxmemory: 8 * GB },
    { address: '10.1.0.3:6379', slots: 5461, usedMemory: 0.8 * GB, maxmemory: 8 * GB },
  ];
  const plan = {
    version: 1,
    job: 'idc-exit',
    createdAt: '2025-06-01T14:03:27.512Z',
    sample: 10000,
    elapsedMs: 48_250,
    endpoints: [
      {
        role: 'source', name: 'idc-01', address: '10.0.0.11:6379', reachable: true, rttMs: 0.42, version: '3.2.12', rdbVersion: 7, mode: 'standalone', nodes: [],
        usedMemory: 11.4 * GB, maxmemory: 0, maxmemoryPolicy: 'noeviction',
        keyspace: [{ db: 0, keys: 21_400_000, expires: 3_100_000 }, { db: 3, keys: 1_250_000, expires: 0 }],
        commands: allowed, notifyKeyspaceEvents: '',
        decisions: ['Staging replica via SYNC: the source is read once, by replication.', 'DUMP payloads are RDB 7: the Redis 7.2 target accepts them as they are.'],
      },
      {
        role: 'source', name: 'idc-02', address: 'legacy-cache.internal:6380', reachable: true, rttMs: 23.7, version: '5.0.6', rdbVersion: 9, mode: 'standalone', nodes: [],
        usedMemory: 6.1 * GB, maxmemory: 8 * GB, maxmemoryPolicy: 'allkeys-lru',
        keyspace: [{ db: 0, keys: 9_800_000, expires: 9_100_000 }],
        commands: managed, notifyKeyspaceEvents: null,
        decisions: ['SYNC, PSYNC and REPLICAOF are refused: read directly with SCAN + DUMP (no staging replica).', 'CONFIG is refused: keyspace notifications cannot be turned on; live sync is not possible.'],
      },
      {
        role: 'source', name: 'idc-03', address: '10.0.0.13:6379', reachable: false, error: 'connect ECONNREFUSED 10.0.0.13:6379 (is the tunnel "idc" up?)', rttMs: null,
        version: null, rdbVersion: null, mode: null, nodes: [], usedMemory: null, maxmemory: null, maxmemoryPolicy: null, keyspace: [], commands: {}, notifyKeyspaceEvents: null, decisions: [],
      },
      {
        role: 'target', name: 'target', address: 'clustercfg.ferry-prod.example.cache:6379', reachable: true, rttMs: 1.9, version: '7.2.4', rdbVersion: 11, mode: 'cluster', nodes,
        usedMemory: 4.9 * GB, maxmemory: 24 * GB, maxmemoryPolicy: 'volatile-lru',
        keyspace: [{ db: 0, keys: 4_020_000, expires: 1_500_000 }],
        commands: { ...allowed, SYNC: 'refused', PSYNC: 'refused', REPLICAOF: 'refused', CONFIG: 'refused' }, notifyKeyspaceEvents: 'Ex',
        decisions: ['Cluster with 3 masters: keys are routed by hash slot, one pipeline per master.', 'RESTORE … ABSTTL (Redis ≥ 5.0), clock offset measured: +12 ms.'],
      },
    ],
    sources: [
      {
        name: 'idc-01',
        dbs: [
          {
            db: 0, targetDb: 0, keysInDb: 21_400_000, keys: 20_900_000, bytes: 10.6 * GB, analysed: 10000,
            types: { string: { keys: 14_200_000, bytes: 3.1 * GB }, hash: { keys: 4_100_000, bytes: 4.2 * GB }, zset: { keys: 1_500_000, bytes: 2.4 * GB }, list: { keys: 700_000, bytes: 0.5 * GB }, set: { keys: 400_000, bytes: 0.4 * GB } },
            ttl: { none: 17_600_000, lt1h: 410_000, lt1d: 1_900_000, lt7d: 700_000, longer: 280_000, expired: 10_000 },
            memorySource: 'memory-usage',
          },
          {
            db: 3, targetDb: 0, keysInDb: 1_250_000, keys: 1_250_000, bytes: 0.7 * GB, analysed: 10000,
            types: { hash: { keys: 1_250_000, bytes: 0.7 * GB } },
            ttl: { none: 1_250_000, lt1h: 0, lt1d: 0, lt7d: 0, longer: 0, expired: 0 },
            memorySource: 'memory-usage',
          },
        ],
        keys: 22_150_000, bytes: 11.3 * GB, readKeysPerSec: 61_500, estimatedMs: 360_163,
        prefixTree: [
          node('user', 9_800_000, 5.9 * GB, [
            node('user:profile', 4_100_000, 3.9 * GB, [node('user:profile:avatar', 900_000, 1.4 * GB)]),
            node('user:session', 5_600_000, 1.9 * GB, [node('user:session:web', 4_000_000, 1.1 * GB), node('user:session:app', 1_600_000, 0.8 * GB)]),
            node('user:…', 100_000, 0.1 * GB),
          ]),
          node('leaderboard', 1_500_000, 2.4 * GB, [node('leaderboard:daily', 1_200_000, 1.1 * GB), node('leaderboard:all', 300_000, 1.3 * GB)]),
          node('cache', 9_000_000, 1.8 * GB, [node('cache:html', 8_000_000, 1.5 * GB), node(`cache:${MALICIOUS_KEY}`, 1, 120)]),
          node('tmp', 1_850_000, 0.5 * GB),
        ],
        heaviestByBytes: [
          { prefix: 'user', keys: 9_800_000, bytes: 5.9 * GB },
          { prefix: 'user:profile', keys: 4_100_000, bytes: 3.9 * GB },
          { prefix: 'leaderboard', keys: 1_500_000, bytes: 2.4 * GB },
          { prefix: 'user:session', keys: 5_600_000, bytes: 1.9 * GB },
          { prefix: 'cache', keys: 9_000_000, bytes: 1.8 * GB },
          { prefix: 'cache:html', keys: 8_000_000, bytes: 1.5 * GB },
          { prefix: 'user:profile:avatar', keys: 900_000, bytes: 1.4 * GB },
        ],
        heaviestByCount: [
          { prefix: 'user', keys: 9_800_000, bytes: 5.9 * GB },
          { prefix: 'cache', keys: 9_000_000, bytes: 1.8 * GB },
          { prefix: 'cache:html', keys: 8_000_000, bytes: 1.5 * GB },
          { prefix: 'user:session', keys: 5_600_000, bytes: 1.9 * GB },
          { prefix: 'user:profile', keys: 4_100_000, bytes: 3.9 * GB },
        ],
      },
      {
        name: 'idc-02',
        dbs: [
          {
            db: 0, targetDb: 0, keysInDb: 9_800_000, keys: 9_800_000, bytes: 5.8 * GB, analysed: 10000,
            types: { string: { keys: 9_000_000, bytes: 2.2 * GB }, zset: { keys: 500_000, bytes: 2.9 * GB }, stream: { keys: 300_000, bytes: 0.7 * GB } },
            ttl: { none: 700_000, lt1h: 6_200_000, lt1d: 2_500_000, lt7d: 400_000, longer: 0, expired: 0 },
            memorySource: 'dump-length',
          },
        ],
        keys: 9_800_000, bytes: 5.8 * GB, readKeysPerSec: 18_200, estimatedMs: 538_461,
        prefixTree: [node('sess', 9_000_000, 2.2 * GB, [node('sess:eu', 5_000_000, 1.2 * GB), node('sess:us', 4_000_000, 1.0 * GB)]), node('rank', 500_000, 2.9 * GB)],
        heaviestByBytes: [
          { prefix: 'rank', keys: 500_000, bytes: 2.9 * GB },
          { prefix: 'sess', keys: 9_000_000, bytes: 2.2 * GB },
          { prefix: 'sess:eu', keys: 5_000_000, bytes: 1.2 * GB },
        ],
        heaviestByCount: [
          { prefix: 'sess', keys: 9_000_000, bytes: 2.2 * GB },
          { prefix: 'sess:eu', keys: 5_000_000, bytes: 1.2 * GB },
          { prefix: 'rank', keys: 500_000, bytes: 2.9 * GB },
        ],
      },
    ],
    totals: { keys: 31_950_000, bytes: 17.1 * GB, estimatedMs: 538_461 },
    bigKeys: bigKeys(bigKeyCount),
    collisions: {
      betweenSources: 41_200,
      withTarget: 1_310,
      groups: [
        {
          kind: 'between-sources', sources: ['idc-01', 'idc-02'], targetDb: 0, keys: 41_200, identical: 38_000,
          samples: [
            { key: 'user:1001:profile', keyHex: Buffer.from('user:1001:profile').toString('hex'), identical: true },
            { key: MALICIOUS_KEY, keyHex: Buffer.from(MALICIOUS_KEY).toString('hex'), identical: false },
            { key: `0x${HEX_KEY}`, keyHex: HEX_KEY, identical: false },
          ],
          consequence: 'onConflict: fail — the run stops at the first of the 3,200 keys whose values differ & names it.',
        },
        {
          kind: 'with-target', sources: ['idc-01'], targetDb: 0, keys: 1_310, identical: 1_310,
          samples: [{ key: 'cache:html:/index', keyHex: Buffer.from('cache:html:/index').toString('hex'), identical: true }],
          consequence: 'Same value already on the target: counted as unchanged, not a conflict.',
        },
      ],
    },
    capacity: {
      targetUsed: 4.9 * GB,
      planned: 17.1 * GB,
      maxmemory: 24 * GB,
      perNode: [
        { address: '10.1.0.1:6379', used: 1.2 * GB, planned: 5.4 * GB, maxmemory: 8 * GB },
        { address: '10.1.0.2:6379', used: 2.9 * GB, planned: 6.3 * GB, maxmemory: 8 * GB },
        { address: '10.1.0.3:6379', used: 0.8 * GB, planned: 5.4 * GB, maxmemory: 8 * GB },
      ],
    },
    staging: [{ source: 'idc-01', bytesNeeded: 11.4 * GB, freeBytes: 210 * GB, dir: '/home/ops/.local/state/ferry/idc-exit/staging/idc-01' }],
    verdicts: [
      { level: 'ok', topic: 'versions', message: 'Every source DUMP payload (RDB 7, 9) is accepted by the target (Redis 7.2.4, RDB 11).' },
      { level: 'warn', topic: 'big-keys', message: `${formatCount(bigKeyCount + 1)} big keys; the largest (${MALICIOUS_KEY}, 2.0 GB) would stall a plain RESTORE for ~6.8 s: they are moved in chunks.` },
      { level: 'blocker', topic: 'capacity', message: 'Master 10.1.0.2:6379 would hold 9.2 GB > maxmemory 8.0 GB & evict keys under volatile-lru.' },
      { level: 'warn', topic: 'commands', message: 'idc-02 refuses SYNC/PSYNC and CONFIG: read by SCAN + DUMP, no live sync after the bulk copy.' },
      { level: 'blocker', topic: 'reachability', message: 'Source idc-03 (10.0.0.13:6379) is unreachable: connect ECONNREFUSED. Check the tunnel "idc" or remove the source from the job.' },
      { level: 'warn', topic: 'collisions', message: '3,200 keys exist on idc-01 and idc-02 with different values; onConflict is fail.' },
      { level: 'ok', topic: 'staging', message: 'Staging needs 11.4 GB; 210.0 GB free.' },
      { level: 'warn', topic: 'duration', message: 'Estimated bulk copy 8m58s at 18,200 keys/s (idc-02, 23.7 ms away), the slowest source.' },
    ],
  };
  return PlanDocument.parse(plan);
}

function count(text: string, part: string | RegExp): number {
  return typeof part === 'string' ? text.split(part).length - 1 : (text.match(part.global ? part : new RegExp(part.source, `${part.flags}g`)) ?? []).length;
}

const VOID = new Set(['meta', 'br', 'hr', 'img', 'input', 'link', 'col', 'wbr', 'source', 'area', 'base', 'embed', 'track']);

/** Every element opened is closed, in order (style contents skipped, void and self-closed tags allowed). */
function unbalancedTags(html: string): string[] {
  const stack: string[] = [];
  const problems: string[] = [];
  const body = html.replace(/<style>[\s\S]*?<\/style>/, '').replace(/^<!doctype html>/i, '');
  for (const m of body.matchAll(/<(\/?)([a-zA-Z][a-zA-Z0-9-]*)\b[^<>]*?(\/?)>/g)) {
    const [, closing, rawName, selfClosing] = m;
    const name = rawName.toLowerCase();
    if (closing) {
      const open = stack.pop();
      if (open !== name) problems.push(`</${name}> closes <${open}> at ${m.index}`);
    } else if (!selfClosing && !VOID.has(name)) {
      stack.push(name);
    }
  }
  return [...problems, ...stack.map((s) => `<${s}> never closed`)];
}

describe('shared/format', () => {
  it('formats units for people', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KB');
    expect(formatBytes(17.1 * GB)).toBe('17.1 GB');
    expect(formatCount(1234567.4)).toBe('1,234,567');
    expect(formatDuration(null)).toBe('--');
    expect(formatDuration(42_000)).toBe('42s');
    expect(formatDuration(125_000)).toBe('2m05s');
    expect(formatDuration(7_620_000)).toBe('2h07m');
    expect(formatMs(0.42)).toBe('0.4 ms');
    expect(formatMs(840)).toBe('840 ms');
    expect(formatMs(1234)).toBe('1.2 s');
    expect(formatMs(42_000)).toBe('42 s');
    expect(formatMs(163_000)).toBe('2m43s');
    expect(formatPercent(1, 3)).toBe('33%');
    expect(formatPercent(1, 1000)).toBe('<1%');
    expect(formatPercent(1, 0)).toBe('--');
    expect(formatTimestamp('2025-06-01T14:03:27.512Z')).toBe('2025-06-01 14:03 UTC');
    expect(formatTimestamp('yesterday')).toBe('yesterday');
  });

  it('main/cli/format.ts re-exports the same functions', () => {
    expect(cliFormat.formatBytes).toBe(formatBytes);
    expect(cliFormat.formatCount).toBe(formatCount);
    expect(cliFormat.formatDuration).toBe(formatDuration);
  });
});

describe('plan HTML report', () => {
  const plan = examplePlan();
  const html = renderPlanHtml(plan);
  if (process.env.FERRY_PLAN_EXAMPLE) writeFileSync(process.env.FERRY_PLAN_EXAMPLE, html);

  it('is one well-formed, self-contained document', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(count(html, '<html')).toBe(1);
    expect(count(html, '</html>')).toBe(1);
    expect(count(html, '<svg')).toBeGreaterThanOrEqual(7); // 3 charts per source + capacity
    expect(count(html, '<svg')).toBe(count(html, '</svg>'));
    expect(unbalancedTags(html)).toEqual([]);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toContain('http');
    expect(html).not.toMatch(/<(link|img|iframe|object|embed)\b/i);
    expect(html).not.toMatch(/\burl\(/);
    expect(html).toContain('prefers-color-scheme:dark');
    expect(html).toContain('@media print');
  });

  it('shows every verdict, escaped, blockers first', () => {
    for (const v of plan.verdicts) expect(html).toContain(escapeHtml(v.message));
    expect(html).not.toContain('9.2 GB > maxmemory');
    expect(html).toContain('9.2 GB &gt; maxmemory 8.0 GB &amp; evict');
    const positions = plan.verdicts.map((v) => ({ level: v.level, at: html.indexOf(escapeHtml(v.message)) }));
    const lastBlocker = Math.max(...positions.filter((p) => p.level === 'blocker').map((p) => p.at));
    const firstWarn = Math.min(...positions.filter((p) => p.level === 'warn').map((p) => p.at));
    const firstOk = Math.min(...positions.filter((p) => p.level === 'ok').map((p) => p.at));
    expect(lastBlocker).toBeLessThan(firstWarn);
    expect(firstWarn).toBeLessThan(firstOk);
    expect(html).toContain('Not ready: 2 blockers');
  });

  it('shows keys as text, never as markup', () => {
    expect(html).not.toContain(MALICIOUS_KEY);
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;&amp;co:&quot;quoted&quot;');
    expect(html).toContain(`<code class="hex">0x${HEX_KEY}</code>`);
    expect(html).toContain(`0x${HEX_KEY}0003`);
  });

  it('holds the facts: totals, endpoints, sources, capacity, staging', () => {
    expect(html).toContain(formatCount(plan.totals.keys));
    expect(html).toContain(formatBytes(plan.totals.bytes));
    expect(html).toContain(formatDuration(plan.totals.estimatedMs));
    for (const e of plan.endpoints) expect(html).toContain(escapeHtml(e.address));
    expect(html).toContain('connect ECONNREFUSED');
    expect(html).toContain('<span class="badge refused" title="refused">PSYNC</span>');
    for (const s of plan.sources) for (const p of s.heaviestByBytes) expect(html).toContain(`<code>${escapeHtml(p.prefix)}</code>`);
    expect(html).toContain('user:profile:avatar');
    for (const n of plan.capacity.perNode) expect(html).toContain(n.address);
    expect(html).toContain('class="over"'); // 10.1.0.2 goes over its maxmemory
    expect(html).toContain(escapeHtml(plan.staging[0].dir));
    expect(html).toContain('onConflict: fail — the run stops');
  });

  it('renders every one of 3,000 big keys, quickly', () => {
    const big = examplePlan(3000);
    const started = performance.now();
    const out = renderPlanHtml(big);
    const ms = performance.now() - started;
    expect(ms).toBeLessThan(1000);
    const table = out.slice(out.indexOf('<table class="bigkeys">'), out.indexOf('</table>', out.indexOf('<table class="bigkeys">')));
    expect(count(table, '<tr><td>')).toBe(big.bigKeys.length);
    expect(big.bigKeys.length).toBe(3001);
    // Lean: well under 300 bytes of markup per row.
    expect(table.length / big.bigKeys.length).toBeLessThan(300);
  });

  it('never writes an address or a control character as such', () => {
    expect(escapeHtml('a\x1b[31mb\x00')).toBe('a\u241b[31mb\u2400');
    expect(escapeHtml('x<y & "z"')).toBe('x&lt;y &amp; &quot;z&quot;');
    const withLink = examplePlan(0);
    withLink.bigKeys.push({ ...withLink.bigKeys[0], key: 'link:https://evil.example/x', keyHex: '' });
    withLink.verdicts.push({ level: 'warn', topic: 'job', message: 'See https://evil.example/' });
    const out = renderPlanHtml(withLink);
    expect(out).not.toMatch(/https?:\/\//);
    expect(out).toContain('link:https&#58;//evil.example/x');
  });

  it('draws an empty plan', () => {
    const empty = PlanDocument.parse({
      version: 1, job: 'empty', createdAt: 'not a date', sample: null, elapsedMs: 12, endpoints: [], sources: [],
      totals: { keys: 0, bytes: 0, estimatedMs: null }, bigKeys: [], collisions: { betweenSources: 0, withTarget: 0, groups: [] },
      capacity: { targetUsed: null, planned: 0, maxmemory: null, perNode: [] }, staging: [], verdicts: [],
    });
    const out = renderPlanHtml(empty);
    expect(unbalancedTags(out)).toEqual([]);
    expect(out).toContain('Ready: nothing stands in the way.');
    expect(formatPlanSummary(empty)).toContain('READY');
  });
});

describe('plan terminal summary', () => {
  const plan = examplePlan();
  const summary = formatPlanSummary(plan);
  const flat = summary.replace(/\s+/g, ' ');
  if (process.env.FERRY_PLAN_EXAMPLE) writeFileSync(`${process.env.FERRY_PLAN_EXAMPLE}.txt`, summary);

  it('fits 120 columns', () => {
    for (const line of summary.split('\n')) expect(line.length, line).toBeLessThanOrEqual(120);
  });

  it('starts with the verdicts, blockers first', () => {
    const lines = summary.split('\n');
    expect(lines[2]).toBe('NOT READY: 2 blockers, 4 warnings');
    expect(lines[3]).toMatch(/^ {2}BLOCKER +capacity +Master 10\.1\.0\.2:6379/);
    expect(lines[4]).toMatch(/^ {2}BLOCKER +reachability +Source idc-03/);
    for (const v of plan.verdicts) expect(flat).toContain(v.message.replace(/\s+/g, ' '));
    expect(count(summary, /^ {2}WARN /gm)).toBe(4);
    expect(count(summary, /^ {2}OK /gm)).toBe(2);
    expect(summary.indexOf('  OK ')).toBeGreaterThan(summary.lastIndexOf('  WARN '));
  });

  it('has the totals, endpoints, top prefixes, big keys, collisions, capacity and duration', () => {
    expect(summary).toContain(`Totals: ${formatCount(plan.totals.keys)} keys, ${formatBytes(plan.totals.bytes)}, estimated ${formatDuration(plan.totals.estimatedMs)}`);
    expect(summary).toContain('Redis 3.2.12 / RDB 7');
    expect(summary).toContain('cluster (3 masters)');
    expect(summary).toContain('refused: SYNC PSYNC REPLICAOF CONFIG');
    expect(summary).toMatch(/idc-03 +10\.0\.0\.13:6379 UNREACHABLE: connect ECONNREFUSED/);
    for (const s of plan.sources) {
      for (const p of s.heaviestByBytes.slice(0, 5)) expect(summary).toMatch(new RegExp(`^ {4}${p.prefix} +${formatBytes(p.bytes).replace('.', '\\.')}`, 'm'));
    }
    expect(summary).not.toMatch(/^ {4}user:profile:avatar /m); // 7th of idc-01: not in the top 5
    expect(summary).toMatch(/db0 -> db0 +20,900,000 keys +10\.6 GB +memory by type: hash 40%, string 29%/);
    expect(summary).toContain(`… and ${formatCount(plan.bigKeys.length - 10)} more`);
    expect(summary).toContain(JSON.stringify(MALICIOUS_KEY)); // the 2 GB key is the largest
    expect(summary).toContain('between idc-01, idc-02 -> db0: 41,200 keys (38,000 identical, 3,200 conflicting)');
    expect(summary).toContain('=> onConflict: fail');
    expect(summary).toMatch(/10\.1\.0\.2:6379 +2\.9 GB used \+ 6\.3 GB planned = 9\.2 GB of 8\.0 GB \(115%, OVER\)/);
    expect(summary.split('\n').at(-1)).toBe(`Estimated duration: ${formatDuration(plan.totals.estimatedMs)} (bulk copy at the measured read rates)`);
  });

  it('keeps control characters away from the terminal', () => {
    const nasty = examplePlan(0);
    nasty.bigKeys.push({ ...nasty.bigKeys[0], key: 'evil\x1b[2J\x9bkey', keyHex: '', bytes: 99 * GB });
    nasty.verdicts.push({ level: 'warn', topic: 'job', message: `a\x1b]0;title\x07b ${'long-word'.repeat(40)}` });
    const out = formatPlanSummary(nasty);
    expect(out).not.toMatch(/[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
  });
});
