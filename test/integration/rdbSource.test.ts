// RDB files as sources (`sources: [{ name, rdb: path }]`): run, verify and resume, against real
// redis-server processes (the local Redis 7.0 is the target). Covers every fixture file written by
// Redis 2.4 to 8.0, several files and a live server merged into one target, a run killed with
// SIGKILL in the middle of a 200,000-key file and resumed, big strings streamed from the file, and
// the files a user can get wrong (missing, corrupt, a module type).
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { EngineEvent } from '../../shared/events.js';
import { Endpoint } from '../../main/engine/endpoints/endpoint.js';
import { crc64, readRdb } from '../../main/engine/rdb/index.js';
import { describeDifference, valuesEqual, type LogicalValue } from '../../main/engine/values/logicalValue.js';
import { readValue } from '../../main/engine/values/readValue.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';
import { pipe, resp, type Arg } from '../support/redisPipe.js';
import { jobFromYaml, migrate, totalDifferences, verify } from '../support/engineRun.js';
import { chunked, corruptFiles, expectedLogical, FIXTURES, loadMeta, loadRecords, moduleId, rdbFileOf, rdbLen, rdbStr, VERSIONS } from '../support/rdbFixtures.js';
import { parseEvents, runFerry, spawnFerry, stackTraceLines, tmpDir, writeJob } from '../support/cli.js';

const work = tmpDir('ferry-rdb-source-');
const servers: RedisServer[] = [];
const endpoints: Endpoint[] = [];

afterAll(async () => {
  endpoints.forEach((e) => e.close());
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true });
});

async function server(): Promise<RedisServer> {
  const s = await startRedis();
  servers.push(s);
  return s;
}

/** Ferry's own client on a server, for reading values back (readValue, PEXPIRETIME). */
async function endpointOf(s: RedisServer, dbs: number[] = [0, 1, 15]): Promise<Endpoint> {
  const e = await Endpoint.open({ role: 'target', name: 'check', url: s.url });
  await e.useDbs(dbs);
  endpoints.push(e);
  return e;
}

const fixtureFile = (version: string) => path.join(FIXTURES, 'rdb', version, 'dump.rdb');
const id = (db: number, key: Buffer) => `${db}/${key.toString('hex')}`;
const keyErrors = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'key-error' }> => e.type === 'key-error');
const warnings = (events: EngineEvent[]) => events.filter((e): e is Extract<EngineEvent, { type: 'warning' }> => e.type === 'warning').map((e) => e.message);

function jobYaml(sources: string[], target: RedisServer, options = ''): string {
  return `name: rdb-move\nsources:\n${sources.map((s) => `  - ${s}\n`).join('')}target: { url: "${target.url}" }\n${options ? `options: ${options}\n` : ''}`;
}

/** The RDB version each fixture was written with; the local 7.0 target reads up to 10. */
const TARGET_RDB_VERSION = 10;

// ---------------------------------------------------------------------------------------------
// Every fixture file, alone, into an empty Redis 7.0
// ---------------------------------------------------------------------------------------------

describe('each fixture dump.rdb as the only source', () => {
  let target: RedisServer;
  let check: Endpoint;

  beforeAll(async () => {
    target = await server();
    check = await endpointOf(target);
  });

  for (const version of VERSIONS) {
    const rdbVersion = loadMeta(version).rdb_version;
    const holdable = rdbVersion <= TARGET_RDB_VERSION;
    const title = holdable
      ? `${version} (RDB ${rdbVersion}): every key arrives with its value, TTL and db; verify finds no difference`
      : `${version} (RDB ${rdbVersion}, newer than the target's): every key arrives, or the run fails naming each key it could not copy and its type`;

    it(title, async () => {
      await target.cli('FLUSHALL');
      const records = loadRecords(version);
      const job = jobFromYaml(jobYaml([`{ name: dump, rdb: "${fixtureFile(version)}" }`], target));
      const run = await migrate(job);
      const errors = new Map(keyErrors(run.events).map((e) => [`${e.db}/${e.keyHex}`, e.message]));
      console.log(`${version}: ${run.outcome}${run.message ? ` (${run.message})` : ''}; ${JSON.stringify(run.counts)}`);
      for (const [k, message] of errors) console.log(`  key error ${k}: ${message}`);

      if (holdable) {
        expect(run.outcome, run.message).toBe('done');
        expect(errors.size).toBe(0);
        expect(run.counts.viaCommands).toBe(0);
      } else if (run.outcome !== 'done') {
        expect(run.message).toMatch(/\d+ key\(s\) could not be copied; see the key errors above/);
        expect(errors.size).toBeGreaterThan(0);
      }
      expect(run.counts.scanned).toBe(records.length);
      expect(run.counts.written + run.counts.errors).toBe(records.length);

      for (const rec of records) {
        const error = errors.get(id(rec.db, rec.key));
        const got = await readValue(check, rec.db, rec.key);
        if (error) {
          // Only a newer file than the target may have keys it cannot take; the message says which type.
          expect(holdable).toBe(false);
          expect(error).toContain(`RDB type ${rec.dump![0]}`);
          expect(error).toContain(rec.json.type);
          expect(got, rec.label).toBeNull();
          continue;
        }
        const expected = expectedLogical(rec.json);
        expect(got, `${version} ${rec.label} (db ${rec.db})`).not.toBeNull();
        expect(valuesEqual(got!, expected), `${version} ${rec.label}: ${describeDifference(got!, expected)}`).toBe(true);
        const expireAt = Number(await check.call(rec.db, rec.key, 'PEXPIRETIME', rec.key));
        if (rec.json.pttl_ms === null) expect(expireAt, rec.label).toBe(-1);
        else expect(Math.abs(expireAt - rec.json.pttl_ms), `${rec.label}: expires at ${expireAt}, recorded ${rec.json.pttl_ms}`).toBeLessThanOrEqual(1000);
      }
      // Nothing else is there: the dbs are those of the file.
      for (const db of [0, 1, 15]) {
        expect(Number(await target.cli('-n', String(db), 'DBSIZE')), `db ${db}`).toBe(records.filter((r) => r.db === db && !errors.has(id(r.db, r.key))).length);
      }

      const check2 = await verify(job);
      expect(check2.compared).toBe(records.length);
      expect(check2.differences).toEqual({ missing: errors.size, type: 0, value: 0, ttl: 0 });
      expect(check2.equal).toBe(records.length - errors.size);
    });
  }
});

// ---------------------------------------------------------------------------------------------
// Three files and a live server merged into one target
// ---------------------------------------------------------------------------------------------

describe('three RDB files and a live source merged into one target (dbs { 15: 0 }, onConflict skip)', () => {
  const versions = ['3.2.13', '5.0.14', '6.2.14'];
  let target: RedisServer;
  let live: RedisServer;
  /** Per target key, every source's value for it. */
  const groups = new Map<string, Array<{ source: string; value: LogicalValue }>>();
  let liveKeys = 0;

  beforeAll(async () => {
    [target, live] = await Promise.all([server(), server()]);
    const records62 = loadRecords('6.2.14');
    // The same value as the files (a string without TTL, RESTOREd from the 6.2 DUMP), another value, and keys of its own.
    const same = records62.find((r) => r.db === 0 && r.json.type === 'string' && r.json.pttl_ms === null && r.json.key_utf8_or_null !== null)!;
    await (await endpointOf(live, [0])).call(0, same.key, 'RESTORE', same.key, 0, same.dump!);
    await live.cli('HSET', 'hash:small', 'only-live', 'value');
    for (let i = 0; i < 50; i++) await live.cli('SET', `live:${i}`, `value-${i}`);
    const liveCheck = await endpointOf(live, [0]);
    for (const k of [same.key, Buffer.from('hash:small'), ...Array.from({ length: 50 }, (_, i) => Buffer.from(`live:${i}`))]) {
      add(`0/${k.toString('hex')}`, 'live', (await readValue(liveCheck, 0, k))!);
      liveKeys++;
    }
    for (const v of versions) {
      for (const r of loadRecords(v)) add(id(r.db === 15 ? 0 : r.db, r.key), `r${v}`, expectedLogical(r.json));
    }
  });

  function add(key: string, source: string, value: LogicalValue): void {
    const list = groups.get(key) ?? [];
    list.push({ source, value });
    groups.set(key, list);
  }

  it('each key is written once, by the first source to get there; the others count as unchanged (same value) or skipped (another value), and verify agrees', async () => {
    const sources = [...versions.map((v) => `{ name: r${v}, rdb: "${fixtureFile(v)}" }`), `{ name: live, url: "${live.url}" }`];
    const job = jobFromYaml(jobYaml(sources, target, '{ onConflict: skip, dbs: { "15": 0 } }'));
    const run = await migrate(job);
    expect(run.outcome, run.message).toBe('done');
    console.log(`merge: ${JSON.stringify(run.counts)}`);

    // Whoever won a key, the target holds exactly one of its sources' values; the counts follow from that.
    const check = await endpointOf(target, [0, 1, 15]);
    let unchanged = 0;
    let skipped = 0;
    for (const [key, members] of groups) {
      const [db, hex] = key.split('/');
      const there = await readValue(check, Number(db), Buffer.from(hex, 'hex'));
      expect(there, key).not.toBeNull();
      const equal = members.filter((m) => valuesEqual(m.value, there!));
      expect(equal.length, `${key}: the target's value is one of the sources'`).toBeGreaterThan(0);
      unchanged += equal.length - 1;
      skipped += members.length - equal.length;
    }
    const total = [...groups.values()].reduce((n, m) => n + m.length, 0);
    expect(run.counts).toMatchObject({ written: groups.size, unchanged, skipped, errors: 0, expired: 0 });
    expect(run.counts.scanned).toBe(total);
    for (const v of versions) expect(run.perSource[`r${v}`].scanned).toBe(loadRecords(v).length);
    expect(run.perSource.live.scanned).toBe(liveKeys);
    // Streams differ between 5.0 and 6.2 and the live hash differs from the files': some were skipped.
    expect(skipped).toBeGreaterThan(0);
    expect(unchanged).toBeGreaterThan(0);
    expect(Number(await target.cli('-n', '15', 'DBSIZE'))).toBe(0);
    expect(Number(await target.cli('DBSIZE')) + Number(await target.cli('-n', '1', 'DBSIZE'))).toBe(groups.size);
    const journal = fs.readFileSync(path.join(job.stateDir, 'skipped-keys.ndjson'), 'utf8').trim().split('\n').filter(Boolean);
    expect(journal.length).toBe(skipped);

    const check2 = await verify(job);
    expect(totalDifferences(check2), JSON.stringify(check2.firstDifferences.slice(0, 5))).toBe(0);
    expect(check2.compared).toBe(total);
    expect(check2.keptByPolicy).toBe(skipped);
    expect(check2.equal).toBe(total - skipped);
  });
});

// ---------------------------------------------------------------------------------------------
// Big strings from a file, a big collection, an expired key, a second run, filters
// ---------------------------------------------------------------------------------------------

describe('big strings stream from the file into a temp key; conflicts and filters', () => {
  let source: RedisServer;
  let target: RedisServer;
  let file: string;
  const random = Buffer.alloc(5 << 20);

  beforeAll(async () => {
    [source, target] = await Promise.all([server(), server()]);
    for (let i = 0; i < random.length; i += 4) random.writeUInt32LE((Math.imul(i + 1, 2654435761) ^ (i >>> 7)) >>> 0, i);
    const c = await endpointOf(source, [0, 3]);
    await c.call(0, Buffer.from('big:random'), 'SET', 'big:random', random, 'PXAT', 4102444800000);
    // Stored LZF-compressed in the file: decompressed on the fly as it streams.
    await c.call(3, Buffer.from('big:text'), 'SET', 'big:text', 'lorem ipsum dolor sit amet '.repeat(200_000));
    const fields: string[] = [];
    for (let i = 0; i < 20_000; i++) fields.push(`f${i}`, `v${i}`);
    await c.call(0, Buffer.from('big:hash'), 'HSET', 'big:hash', ...fields);
    for (let i = 0; i < 100; i++) await c.call(0, Buffer.from(`small:${i}`), 'SET', `small:${i}`, `v${i}`);
    await c.call(0, Buffer.from('soon-gone'), 'SET', 'soon-gone', 'x', 'PX', 1500);
    await source.cli('SAVE');
    file = path.join(work, 'big.rdb');
    fs.copyFileSync(path.join(source.dir, 'dump.rdb'), file);
    // The key with a short TTL has expired by the time the file is read.
    await new Promise((r) => setTimeout(r, 1600));
  });

  const options = '{ bigKey: { bytes: 1mb } }';

  it('strings over bigKey.bytes are streamed (raw and LZF), a big hash goes as one RESTORE (with a warning), an expired key is counted', async () => {
    const job = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, options));
    const run = await migrate(job);
    expect(run.outcome, run.message).toBe('done');
    expect(run.counts).toMatchObject({ scanned: 104, written: 103, chunked: 2, expired: 1, errors: 0 });
    expect(run.events.some((e) => e.type === 'big-key-progress')).toBe(true);
    expect(warnings(run.events).some((m) => /"big:hash".*20,000 elements.*one RESTORE/.test(m))).toBe(true);
    expect(warnings(run.events).filter((m) => /is a big key: it is copied in windows/.test(m))).toHaveLength(2);
    const check = await endpointOf(target, [0, 3]);
    const got = (await check.call(0, Buffer.from('big:random'), 'GET', 'big:random')) as Buffer;
    expect(got.equals(random)).toBe(true);
    expect(Number(await check.call(0, Buffer.from('big:random'), 'PEXPIRETIME', 'big:random'))).toBe(4102444800000);
    expect(Number(await target.cli('-n', '3', 'STRLEN', 'big:text'))).toBe(27 * 200_000);
    expect(await target.cli('EXISTS', 'soon-gone')).toBe('0');
    // No temp key left behind.
    expect(await target.cli('--scan', '--pattern', '*ferry-tmp*')).toBe('');
    const v = await verify(job);
    expect(totalDifferences(v), JSON.stringify(v.firstDifferences)).toBe(0);
    expect(v.compared).toBe(103);
  });

  it('a second run finds everything in place (unchanged); a changed big string is skipped and kept by policy in verify', async () => {
    const again = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, options));
    const run = await migrate(again);
    expect(run.outcome, run.message).toBe('done');
    expect(run.counts).toMatchObject({ written: 0, unchanged: 103, expired: 1, skipped: 0 });

    await target.cli('SETRANGE', 'big:random', String(3 << 20), 'changed');
    const skip = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, '{ bigKey: { bytes: 1mb }, onConflict: skip }'));
    const skipped = await migrate(skip);
    expect(skipped.counts).toMatchObject({ unchanged: 102, skipped: 1 });
    const v = await verify(skip);
    expect(totalDifferences(v)).toBe(0);
    expect(v.keptByPolicy).toBe(1);

    const fail = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, options));
    const failed = await migrate(fail);
    expect(failed.outcome).toBe('failed');
    expect(failed.message).toMatch(/key "big:random" \(db 0\) from source big already exists on the target \(db 0\) with a different value, and onConflict is fail/);
    // The file changes before the resume: the checkpoint's count of settled keys means nothing for it.
    const later = new Date(Date.now() + 60_000);
    fs.utimesSync(file, later, later);
    await expect(migrate(fail, true)).rejects.toThrow(/source big: the RDB file .*big\.rdb changed since the checkpoint was written .*Run it without --resume/);

    const replace = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, '{ bigKey: { bytes: 1mb }, onConflict: replace }'));
    const replaced = await migrate(replace);
    expect(replaced.outcome, replaced.message).toBe('done');
    expect(((await (await endpointOf(target, [0])).call(0, Buffer.from('big:random'), 'GET', 'big:random')) as Buffer).equals(random)).toBe(true);
    expect(await target.cli('--scan', '--pattern', '*ferry-t*')).toBe('');
  });

  it('filters and db mapping apply as for a live source', async () => {
    await target.cli('FLUSHALL');
    const job = jobFromYaml(jobYaml([`{ name: big, rdb: "${file}" }`], target, '{ include: ["small:1*", "big:*"], types: [string], dbs: { "3": 5 } }'));
    const run = await migrate(job);
    expect(run.outcome, run.message).toBe('done');
    // small:1, small:10-19: 11; big:random, big:text; big:hash is filtered by type.
    expect(run.counts).toMatchObject({ scanned: 14, written: 13, filtered: 1 });
    expect(await target.cli('-n', '5', 'EXISTS', 'big:text')).toBe('1');
    expect(await target.cli('-n', '3', 'DBSIZE')).toBe('0');
    const v = await verify(job);
    expect(totalDifferences(v)).toBe(0);
    expect(v.compared).toBe(13);
  });
});

// ---------------------------------------------------------------------------------------------
// Files a user can get wrong
// ---------------------------------------------------------------------------------------------

describe('missing, corrupt and unsupported files', () => {
  let target: RedisServer;
  let live: RedisServer;

  beforeAll(async () => {
    [target, live] = await Promise.all([server(), server()]);
    await live.cli('SET', 'live-key', 'v');
  });

  it('a missing file: refused before anything is written, naming the file and the OS reason (also with a live source beside it)', async () => {
    const missing = path.join(work, 'no-such-dump.rdb');
    const job = jobFromYaml(jobYaml([`{ name: live, url: "${live.url}" }`, `{ name: gone, rdb: "${missing}" }`], target));
    await expect(migrate(job)).rejects.toThrow(`source gone: cannot read the RDB file ${missing}: no such file or directory (ENOENT)`);
    await expect(verify(job)).rejects.toThrow(`source gone: cannot read the RDB file ${missing}`);
    expect(await target.cli('DBSIZE')).toBe('0');

    const dir = path.join(work, 'cli-missing');
    const jobFile = writeJob(dir, jobYaml([`{ name: gone, rdb: ./missing.rdb }`], target));
    const r = await runFerry(['run', jobFile, '--state-dir', path.join(dir, 'state')]);
    console.log(`ferry run with a missing file (exit ${r.code}): ${r.stderr.trim()}`);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`cannot read the RDB file ${path.join(dir, 'missing.rdb')}: no such file or directory (ENOENT)`);
    expect(stackTraceLines(`${r.stdout}\n${r.stderr}`)).toEqual([]);
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  const { base, variants } = corruptFiles();

  it('each damaged file fails naming the file and where; keys before the damage may be there (with their right values), none from the damaged record on', async () => {
    // base.rdb's keys, with the offset where each starts.
    const baseKeys = new Map<string, { offset: number; value: LogicalValue }>();
    for await (const item of readRdb(chunked(base, 4096))) if (item.kind === 'key') baseKeys.set(id(item.db, item.key), { offset: item.offset, value: item.value });
    const check = await endpointOf(target, [0, 1]);
    for (const variant of variants) {
      await target.cli('FLUSHALL');
      const file = path.join(FIXTURES, 'rdb', 'corrupt', variant.file);
      const job = jobFromYaml(jobYaml([`{ name: damaged, rdb: "${file}" }`], target));
      let message: string;
      let outcome: string;
      try {
        const run = await migrate(job);
        outcome = run.outcome;
        message = run.message ?? '';
        const checkpoint = JSON.parse(fs.readFileSync(path.join(job.stateDir, 'checkpoint.json'), 'utf8')) as { finished: boolean };
        expect(checkpoint.finished, variant.file).toBe(false);
      } catch (err) {
        outcome = 'refused';
        message = (err as Error).message;
      }
      const on = (await target.cli('DBSIZE')) + '+' + (await target.cli('-n', '1', 'DBSIZE'));
      console.log(`${variant.file} (${variant.damage}): ${outcome}, target ${on} keys: ${message}`);
      expect(outcome, variant.file).not.toBe('done');
      expect(message, variant.file).toContain(file);
      const at = /at offset (\d+)/.exec(message);
      // A file too short for a header is refused up front; every other damage is found at an offset.
      if (outcome === 'refused') expect(message).toMatch(/too short for an RDB file/);
      else expect(at, `${variant.file}: the message says where`).not.toBeNull();
      for (const db of [0, 1]) {
        const keys = (await target.cli('-n', String(db), '--scan')).split('\n').filter(Boolean);
        for (const k of keys) {
          const key = Buffer.from(k);
          const known = baseKeys.get(id(db, key));
          expect(known, `${variant.file}: ${k} is a key of the file`).toBeDefined();
          const got = await readValue(check, db, key);
          expect(valuesEqual(got!, known!.value), `${variant.file}: ${k}`).toBe(true);
          if (at && !/RDB checksum mismatch/.test(message)) expect(known!.offset, `${variant.file}: ${k} was before the damage`).toBeLessThan(Number(at![1]));
        }
      }
      if (/RDB checksum mismatch/.test(message)) {
        // Everything was written before the end said the file is corrupt: the message says so.
        expect(message).toMatch(/came from a corrupt file/);
        expect(Number(await target.cli('DBSIZE')) + Number(await target.cli('-n', '1', 'DBSIZE'))).toBe(baseKeys.size);
      }
    }
  });

  it('a module value names the module and the key; the keys before it are written', async () => {
    const b = (...parts: Array<Buffer | number[]>) => Buffer.concat(parts.map((p) => (Buffer.isBuffer(p) ? p : Buffer.from(p))));
    const body = b([0xfe, 0], [0], rdbStr('before'), rdbStr('1'), [7], rdbStr('doc:1'), rdbLen(moduleId('ReJSON-RL', 3)), [2, 5, 0], [0], rdbStr('after'), rdbStr('2'));
    const file = path.join(work, 'module.rdb');
    fs.writeFileSync(file, rdbFileOf(9, body, crc64));
    await target.cli('FLUSHALL');
    const job = jobFromYaml(jobYaml([`{ name: modules, rdb: "${file}" }`], target));
    const run = await migrate(job);
    console.log(`module value: ${run.message}`);
    expect(run.outcome).toBe('failed');
    expect(run.message).toContain(file);
    expect(run.message).toMatch(/module type "ReJSON-RL".*\(in key "doc:1"\)/);
    expect(await target.cli('GET', 'before')).toBe('1');
    expect(await target.cli('EXISTS', 'doc:1', 'after')).toBe('0');
  });
});

// ---------------------------------------------------------------------------------------------
// A 200,000-key file: killed with SIGKILL and resumed; speed against the scan path
// ---------------------------------------------------------------------------------------------


/** 200,000 keys in dbs 0 and 2: strings (a fifth with TTLs of hours), hashes, lists, sets, zsets, streams. */
async function fill(port: number): Promise<number> {
  let cmds: Buffer[] = [];
  const filler = 'payload-'.repeat(8);
  for (let n = 0; n < 150_000; n++) {
    const args: Arg[] = ['SET', `str:${n}`, `${filler}${n}`];
    if (n % 5 === 0) args.push('PX', 7_200_000 + n);
    cmds.push(resp(args));
  }
  for (let n = 0; n < 12_000; n++) {
    cmds.push(resp(['HSET', `hash:${n}`, 'a', n, 'b', `b-${n}`, 'c', 'ccc']));
    cmds.push(resp(['RPUSH', `list:${n}`, 'x', n, 'y']));
    cmds.push(resp(['SADD', `set:${n}`, 'm1', 'm2', n]));
  }
  const db0 = cmds;
  cmds = [];
  for (let n = 0; n < 13_950; n++) cmds.push(resp(['ZADD', `zset:${n}`, 1.5, 'a', n, 'b', -3, `c${n}`]));
  for (let n = 0; n < 50; n++) {
    for (let e = 1; e <= 20; e++) cmds.push(resp(['XADD', `stream:${n}`, `${1700000000000 + e}-0`, 'f', e]));
    cmds.push(resp(['XGROUP', 'CREATE', `stream:${n}`, 'g', '0']));
    cmds.push(resp(['XREADGROUP', 'GROUP', 'g', 'c1', 'COUNT', 5, 'STREAMS', `stream:${n}`, '>']));
  }
  // In batches, each on a connection of its own that selects its db first.
  for (const [db, list] of [[0, db0], [2, cmds]] as const) {
    for (let i = 0; i < list.length; i += 100_000) await pipe(port, [resp(['SELECT', db]), ...list.slice(i, i + 100_000)]);
  }
  return 150_000 + 36_000 + 13_950 + 50;
}

interface Killed {
  written: number;
  total: number;
}

/** Keys the checkpoint in `stateDir` counts as settled (0 before it is first saved with some). */
function settledInCheckpoint(stateDir: string, source: string): number {
  try {
    const saved = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as { sources: Record<string, { shards: Record<string, { cursor: string }> }> };
    return Number(saved.sources[source]?.shards.file?.cursor ?? 0);
  } catch {
    return 0;
  }
}

/**
 * Starts `ferry run --json`, SIGKILLs it once a progress event shows more than `fraction` of the
 * keys written and the checkpoint has been saved with some keys settled.
 */
function runAndKill(args: string[], env: Record<string, string>, fraction: number, stateDir: string): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const child = spawnFerry(args, { env });
    let buffered = '';
    let stderr = '';
    let seen: Killed | null = null;
    let killed = false;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no progress past ${fraction} within 40 s; stderr: ${stderr}`));
    }, 40_000);
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      if (killed) return;
      buffered += d;
      const lines = buffered.split('\n');
      buffered = lines.pop()!;
      for (const event of parseEvents(lines.join('\n'))) {
        if (event.type === 'run-finished') {
          killed = true;
          clearTimeout(timer);
          reject(new Error(`the run finished before it could be killed (${JSON.stringify(event.counts)})`));
          return;
        }
        if (event.type !== 'progress') continue;
        seen = { written: (event.counts as { written: number }).written, total: event.total as number };
        if (seen.written > fraction * seen.total && settledInCheckpoint(stateDir, 'large') > 0) {
          killed = true;
          child.kill('SIGKILL');
          return;
        }
      }
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      if (signal === 'SIGKILL' && seen) resolve(seen);
      else reject(new Error(`ferry ended by itself (code ${code}, signal ${signal}); stderr: ${stderr}`));
    });
  });
}

describe('a 200,000-key RDB file', () => {
  let source: RedisServer;
  let target: RedisServer;
  let keys: number;
  let file: string;
  const stateDir = path.join(work, 'resume-state');

  beforeAll(async () => {
    [source, target] = await Promise.all([server(), server()]);
    keys = await fill(source.port);
    await source.cli('SAVE');
    file = path.join(work, 'large.rdb');
    fs.copyFileSync(path.join(source.dir, 'dump.rdb'), file);
    expect(Number(await source.cli('DBSIZE')) + Number(await source.cli('-n', '2', 'DBSIZE'))).toBe(keys);
  }, 60_000);

  it('ferry run killed with SIGKILL part-way, then --resume: completes, verify finds the target equal', async () => {
    // A rate limit makes the run long enough to be killed in the middle, whatever the machine.
    const jobFile = writeJob(path.join(work, 'resume'), jobYaml([`{ name: large, rdb: "${file}" }`], target, '{ maxKeysPerSec: 60000 }'));
    const env = { FERRY_STATE_DIR: stateDir };
    const killed = await runAndKill(['run', jobFile, '--json', '--state-dir', stateDir], env, 0.3, stateDir);
    const afterKill = Number(await target.cli('DBSIZE')) + Number(await target.cli('-n', '2', 'DBSIZE'));
    const checkpoint = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as {
      finished: boolean;
      sources: Record<string, { shards: Record<string, { cursor: string; complete: boolean }>; file?: { size: number } }>;
    };
    const settled = Number(checkpoint.sources.large.shards.file.cursor);
    console.log(`killed at ${killed.written}/${killed.total} written; ${afterKill} keys on the target; checkpoint: ${settled} keys settled in file order`);
    expect(checkpoint.finished).toBe(false);
    expect(checkpoint.sources.large.file?.size).toBe(fs.statSync(file).size);
    expect(settled).toBeGreaterThan(0);
    expect(settled).toBeLessThanOrEqual(afterKill);
    expect(afterKill).toBeLessThan(keys);

    const r = await runFerry(['run', jobFile, '--resume', '--state-dir', stateDir], { env, timeoutMs: 55_000 });
    expect(r.code, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(r.stdout).toMatch(/^Resuming job rdb-move/m);
    expect(stackTraceLines(`${r.stdout}\n${r.stderr}`)).toEqual([]);
    const report = JSON.parse(fs.readFileSync(path.join(stateDir, 'run-report.json'), 'utf8')) as { outcome: string; counts: Record<string, number> };
    console.log(`resumed: ${JSON.stringify(report.counts)}`);
    expect(report.outcome).toBe('done');
    expect(report.counts.errors).toBe(0);
    expect(report.counts.skipped).toBe(0);
    expect(report.counts.written + report.counts.unchanged).toBeGreaterThanOrEqual(keys);
    expect(Number(await target.cli('DBSIZE')) + Number(await target.cli('-n', '2', 'DBSIZE'))).toBe(keys);

    const v = await verify({ loaded: jobFromYaml(jobYaml([`{ name: large, rdb: "${file}" }`], target)).loaded, stateDir }, 2000);
    expect(totalDifferences(v), JSON.stringify(v.firstDifferences.slice(0, 3))).toBe(0);
    expect(v.compared).toBe(keys);
  }, 120_000);

  it('speed: the file path against the scan path over the same data (measured once, informational)', async () => {
    const fileTarget = await server();
    const scanTarget = await server();
    const fileJob = jobFromYaml(jobYaml([`{ name: large, rdb: "${file}" }`], fileTarget));
    let started = performance.now();
    const fromFile = await migrate(fileJob);
    const fileMs = performance.now() - started;
    const scanJob = jobFromYaml(jobYaml([`{ name: large, url: "${source.url}" }`], scanTarget));
    started = performance.now();
    const fromScan = await migrate(scanJob);
    const scanMs = performance.now() - started;
    expect(fromFile.outcome, fromFile.message).toBe('done');
    expect(fromScan.outcome, fromScan.message).toBe('done');
    expect(fromFile.counts.written).toBe(keys);
    expect(fromScan.counts.written).toBe(keys);
    const rate = (ms: number) => Math.round((keys / ms) * 1000).toLocaleString('en-US');
    console.log(`${keys} keys: RDB file ${Math.round(fileMs)} ms (${rate(fileMs)} keys/s), scan of the live server ${Math.round(scanMs)} ms (${rate(scanMs)} keys/s)`);
  }, 120_000);
});
