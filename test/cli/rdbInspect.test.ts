import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RdbInspection } from '../../shared/rdb.js';
import { runFerry, stackTraceLines, tmpDir } from '../support/cli.js';
import { FIXTURES, loadRecords } from '../support/rdbFixtures.js';

const rdbPath = (version: string) => path.join(FIXTURES, 'rdb', version, 'dump.rdb');
const dir = tmpDir('ferry-rdb-cli-');
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

describe('ferry rdb inspect', () => {
  it('prints the version, aux fields, dbs, types, biggest keys and the memory estimate; exit 0', async () => {
    const result = await runFerry(['rdb', 'inspect', rdbPath('7.4.1')]);
    expect(result.code, result.stderr).toBe(0);
    const out = result.stdout;
    expect(out).toContain(`RDB file ${rdbPath('7.4.1')}`);
    expect(out).toContain('RDB version 12, written by Redis 7.4.1');
    expect(out).toContain('checksum OK');
    expect(out).toMatch(/^ {2}redis-ver +7\.4\.1/m);
    expect(out).toMatch(/^ {2}ctime +\d+ +saved at \d{4}-/m);
    expect(out).toContain('Functions: 1 library: ferrylib (lua');
    expect(out).toMatch(/^Totals: 44 keys \(10 with a TTL, 0 expired, 2 hashes with field TTLs\)/m);
    for (const db of ['db0', 'db1', 'db15']) expect(out).toMatch(new RegExp(`^ {2}${db} `, 'm'));
    for (const type of ['string', 'list', 'set', 'zset', 'hash', 'stream']) expect(out).toMatch(new RegExp(`^ {2}${type} +\\d`, 'm'));
    expect(out).toContain('hash-listpack-ex (25): 1');
    expect(out).toMatch(/Biggest keys \(top 10 by bytes in the file\)/);
    expect(out).toContain('"list:large"');
    expect(out).toMatch(/Memory: ~[\d.]+ KB, an ESTIMATE/);
    for (const line of out.split('\n')) expect(line.length).toBeLessThanOrEqual(120);
    expect(result.stderr).toBe('');
  });

  it('says where the version comes from when the file does not name it (Redis 2.4)', async () => {
    const result = await runFerry(['rdb', 'inspect', rdbPath('2.4.18'), '--top', '3']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toContain('RDB version 2, written by Redis 2.4 (from the RDB version; the file does not say)');
    expect(result.stdout).toContain('no checksum (RDB 2 has none)');
    expect(result.stdout).toContain('Biggest keys (top 3 by bytes in the file)');
  });

  it('--json prints an RdbInspection', async () => {
    const result = await runFerry(['rdb', 'inspect', '--json', rdbPath('7.0.15')]);
    expect(result.code, result.stderr).toBe(0);
    const inspection = RdbInspection.parse(JSON.parse(result.stdout));
    expect(inspection.rdbVersion).toBe(10);
    expect(inspection.writtenBy).toEqual({ version: '7.0.15', from: 'aux' });
    expect(inspection.totals.keys).toBe(loadRecords('7.0.15').length);
    expect(inspection.dbs.map((d) => d.db)).toEqual([0, 1, 15]);
    expect(inspection.biggestKeys).toHaveLength(10);
  });

  it('a missing file: exit 2, naming it, no stack trace', async () => {
    const missing = path.join(dir, 'nope.rdb');
    const result = await runFerry(['rdb', 'inspect', missing]);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain(`cannot read the RDB file ${missing}: no such file`);
    expect(stackTraceLines(result.stderr)).toEqual([]);
    const asDir = await runFerry(['rdb', 'inspect', dir]);
    expect(asDir.code).toBe(2);
    expect(asDir.stderr).toContain('it is a directory');
  });

  it('a damaged file: exit 1, naming the file, the offset and what is wrong', async () => {
    const file = path.join(FIXTURES, 'rdb', 'corrupt', '08-bad-type-byte.rdb');
    const result = await runFerry(['rdb', 'inspect', file]);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`the RDB file ${file} cannot be read: RDB data is corrupt at offset 85: unknown value type 63`);
    expect(result.stdout).toBe('');
    expect(stackTraceLines(result.stderr)).toEqual([]);
    const checksum = await runFerry(['rdb', 'inspect', '--json', path.join(FIXTURES, 'rdb', 'corrupt', '07-bad-checksum.rdb')]);
    expect(checksum.code).toBe(1);
    expect(checksum.stderr).toMatch(/RDB checksum mismatch at offset 349/);
  });

  it('bad command lines: exit 2', async () => {
    for (const [args, message] of [
      [['rdb'], 'give a subcommand: ferry rdb inspect FILE'],
      [['rdb', 'list'], 'unknown rdb subcommand "list"'],
      [['rdb', 'inspect'], 'give one RDB file'],
      [['rdb', 'inspect', 'a.rdb', 'b.rdb'], 'unexpected argument "b.rdb"'],
      [['rdb', 'inspect', 'a.rdb', '--top', 'x'], '--top must be a whole number'],
      [['rdb', 'inspect', 'a.rdb', '--frobnicate'], 'frobnicate'],
    ] as Array<[string[], string]>) {
      const result = await runFerry(args);
      expect(result.code, args.join(' ')).toBe(2);
      expect(result.stderr).toContain(message);
    }
  });

  it('is in the help', async () => {
    const result = await runFerry(['help']);
    expect(result.stdout).toContain('ferry rdb inspect FILE [--json] [--top N]');
  });
});
