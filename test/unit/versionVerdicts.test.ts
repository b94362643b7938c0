import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { rdbVersionOf } from '../../main/engine/endpoints/serverFacts.js';
import { versionVerdicts } from '../../main/engine/plan/versionVerdicts.js';
import { REPO_ROOT } from '../support/cli.js';

interface Meta {
  version: string;
  rdb_version: number;
  redis_version: string;
}
const dir = path.join(REPO_ROOT, '..', 'shared', 'fixtures', 'dump');
const metas = fs
  .readdirSync(dir)
  .filter((f) => f.endsWith('.meta.json'))
  .map((f) => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as Meta)
  // 2.4 has no DUMP: it cannot be a live source or target of payloads.
  .filter((m) => m.version !== '2.4.18');

const parts = (v: string) => v.split('.').map((p) => Number.parseInt(p, 10) || 0) as [number, number, number];

describe('versions, from the servers that wrote the fixtures', () => {
  it('knows the RDB version each Redis version writes', () => {
    expect(metas.length).toBeGreaterThanOrEqual(10);
    for (const m of metas) expect(rdbVersionOf(parts(m.redis_version)), m.version).toBe(m.rdb_version);
  });

  for (const source of metas) {
    for (const target of metas) {
      it(`${source.version} -> ${target.version}`, () => {
        const hasStreams = parts(source.redis_version)[0] >= 5;
        const verdicts = versionVerdicts(
          { name: 'src', version: source.redis_version, rdbVersion: source.rdb_version },
          { name: 'target', version: target.redis_version, rdbVersion: target.rdb_version },
          { streams: hasStreams, hashes: true },
        );
        const payload = verdicts.find((v) => v.message.includes('payloads'))!;
        expect(payload.level).toBe('ok');
        if (source.rdb_version > target.rdb_version) expect(payload.message).toContain(`re-encoded for RDB ${target.rdb_version}`);
        const counters = verdicts.some((v) => v.level === 'warn' && v.message.includes('entries-added'));
        expect(counters).toBe(hasStreams && parts(source.redis_version)[0] >= 7 && parts(target.redis_version)[0] >= 5 && parts(target.redis_version)[0] < 7);
        const streamBlocker = verdicts.some((v) => v.level === 'blocker' && v.message.includes('streams'));
        expect(streamBlocker).toBe(hasStreams && parts(target.redis_version)[0] < 5);
        const fieldTtls = verdicts.some((v) => v.message.includes('TTLs'));
        const is74 = (v: string) => parts(v)[0] > 7 || (parts(v)[0] === 7 && parts(v)[1] >= 4);
        expect(fieldTtls).toBe(is74(source.redis_version) && !is74(target.redis_version));
      });
    }
  }
});

it('a payload newer than Ferry reads: plain commands, a warning', () => {
  const v = versionVerdicts({ name: 'src', version: '9.0.0', rdbVersion: 13 }, { name: 'target', version: '7.0.15', rdbVersion: 10 }, { streams: false, hashes: false });
  expect(v.find((x) => x.message.includes('plain commands'))).toMatchObject({ level: 'warn' });
});

describe('hash fields with their own TTLs (Redis 7.4+) into an older target', () => {
  const src = { name: 'src', version: '7.4.1', rdbVersion: 12 };
  const tgt = { name: 'target', version: '7.0.15', rdbVersion: 10 };
  it('is a blocker when the source has such keys', () => {
    const v = versionVerdicts(src, tgt, { streams: false, hashes: true, fieldTtlKeys: 3 });
    expect(v.find((x) => x.message.includes('TTLs'))).toMatchObject({ level: 'blocker' });
  });
  it('is a warning when the job accepts the loss', () => {
    const v = versionVerdicts(src, tgt, { streams: false, hashes: true, fieldTtlKeys: 3 }, ['hash-field-ttls']);
    expect(v.find((x) => x.message.includes('TTLs'))).toMatchObject({ level: 'warn' });
  });
  it('says nothing when the source reports none', () => {
    const v = versionVerdicts(src, tgt, { streams: false, hashes: true, fieldTtlKeys: 0 });
    expect(v.some((x) => x.message.includes('TTLs'))).toBe(false);
  });
});
