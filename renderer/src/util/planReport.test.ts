import { describe, expect, it } from 'vitest';
import { PlanDocument } from '../../../shared/plan.js';
import { planCounts, planToHtml, ttlTotals, typeTotals } from './planReport.js';
import { displayKey, textToHex } from './keys.js';

const db = (keys: number) => ({
  db: 0,
  targetDb: 0,
  keysInDb: keys,
  keys,
  bytes: keys * 100,
  analysed: keys,
  types: { string: { keys: keys - 1, bytes: (keys - 1) * 50 }, hash: { keys: 1, bytes: 10_000_000 } },
  ttl: { none: keys - 2, lt1h: 1, lt1d: 1, lt7d: 0, longer: 0, expired: 0 },
  memorySource: 'memory-usage' as const,
});

const doc = PlanDocument.parse({
  version: 1,
  job: 'idc-exit',
  createdAt: '2025-06-01T14:03:00.000Z',
  sample: null,
  elapsedMs: 4200,
  endpoints: [],
  sources: ['a', 'b'].map((name) => ({ name, dbs: [db(100)], keys: 100, bytes: 10_000, readKeysPerSec: 5000, estimatedMs: 20, prefixTree: [], heaviestByBytes: [], heaviestByCount: [] })),
  totals: { keys: 200, bytes: 20_000, estimatedMs: 40 },
  bigKeys: [{ source: 'a', db: 0, key: '<script>alert(1)</script>', keyHex: textToHex('<script>alert(1)</script>'), type: 'hash', bytes: 10_000_000, elements: 200_000, strategy: 'chunked', restoreStallMs: 120 }],
  collisions: { betweenSources: 0, withTarget: 0, groups: [] },
  capacity: { targetUsed: null, planned: 20_000, maxmemory: 0, perNode: [] },
  staging: [],
  verdicts: [
    { level: 'blocker', topic: 'capacity', message: 'the target is too small & full' },
    { level: 'warn', topic: 'big-keys', message: '1 big key' },
    { level: 'ok', topic: 'versions', message: 'same versions' },
  ],
});

describe('plan report', () => {
  it('sums types and TTLs over sources and dbs', () => {
    expect(typeTotals(doc)).toEqual([
      { type: 'hash', keys: 2, bytes: 20_000_000 },
      { type: 'string', keys: 198, bytes: 9900 },
    ]);
    expect(ttlTotals(doc)).toEqual({ none: 196, lt1h: 2, lt1d: 2, lt7d: 0, longer: 0, expired: 0 });
    expect(planCounts(doc)).toEqual({ blocker: 1, warn: 1, ok: 1 });
  });

  it('the HTML export is self-contained and escapes everything', () => {
    const html = planToHtml(doc);
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(html).toContain('too small &amp; full');
    expect(html).toContain('Ferry plan: idc-exit');
    expect(html).not.toMatch(/src=|href=/);
  });
});

describe('keys', () => {
  it('printable keys as text, others as hex', () => {
    expect(displayKey(textToHex('user:1'))).toEqual({ text: 'user:1', printable: true });
    expect(displayKey('ff')).toEqual({ text: '0xff', printable: false });
    expect(displayKey('00')).toEqual({ text: '0x00', printable: false });
  });
});
