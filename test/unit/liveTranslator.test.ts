import { describe, expect, it } from 'vitest';
import { JobSchema } from '../../shared/job.js';
import { KeyFilter } from '../../main/engine/filters/keyFilter.js';
import { keySlot } from '../../main/engine/keys/hashSlot.js';
import type { KeyType } from '../../main/engine/keys/keyTypes.js';
import { keyIndexes, keySpecsFromCommandReply, WRITE_COMMANDS } from '../../main/engine/live/commandTable.js';
import { CommandTranslator, translatorOptionsFor, type CommandOp, type TargetOp, type TranslatorOptions } from '../../main/engine/live/commandTranslator.js';

const NOW = 1_700_000_000_000;
type A = string | Buffer | number;
const buf = (a: A) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a)));

function translator(over: Partial<TranslatorOptions> & { include?: string[]; exclude?: string[]; types?: KeyType[] } = {}): CommandTranslator {
  const { include = [], exclude = [], types = [], ...rest } = over;
  return new CommandTranslator({
    targetDbOf: (db) => db,
    filter: new KeyFilter({ include, exclude, types }),
    ttl: { keep: true, extendMs: 0 },
    target: { cluster: false, version: [7, 2] },
    sourcesWriting: 1,
    sourceDbCount: 16,
    ...rest,
  });
}

const run = (t: CommandTranslator, ...argv: A[]) => t.translate(argv.map(buf), NOW);
const text = (op: TargetOp) => (op as CommandOp).argv.map((a) => a.toString('latin1'));
const texts = (ops: TargetOp[]) => ops.map(text);

/** Two keys in different slots, and two that share one through a hash tag. */
const [A1, B1] = ['alpha', 'bravo'];
const [T1, T2] = ['{u1}:a', '{u1}:b'];

describe('SELECT, db mapping, filters', () => {
  it('SELECT changes the db and emits nothing; ops carry the mapped target db', () => {
    const t = translator({ targetDbOf: (db) => (db === 1 ? 5 : db === 3 ? null : db) });
    expect(run(t, 'SELECT', '1').ops).toEqual([]);
    expect(t.db).toBe(1);
    const out = run(t, 'set', 'k', 'v');
    expect(out.ops).toEqual([{ kind: 'command', db: 5, key: buf('k'), argv: ['SET', 'k', 'v'].map(buf) }]);
    run(t, 'select', '3');
    expect(run(t, 'SET', 'k', 'v').ops).toEqual([]);
    expect(t.stats.dropped.unmappedDb).toBe(1);
    run(t, 'SeLeCt', '0');
    expect(run(t, 'SET', 'k', 'v').ops[0]).toMatchObject({ db: 0 });
  });

  it('command names and options are case-insensitive', () => {
    const t = translator();
    expect(texts(run(t, 'sEt', 'k', 'v', 'px', '100').ops)).toEqual([['SET', 'k', 'v', 'PXAT', String(NOW + 100)]]);
    expect(texts(run(t, 'Expire', 'k', '10').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 10_000)]]);
    expect(texts(run(t, 'rpush', 'l', 'a').ops)).toEqual([['rpush', 'l', 'a']]);
  });

  it('include/exclude globs drop commands on left-out keys, counted, without notes', () => {
    const t = translator({ include: ['user:*'], exclude: ['user:tmp:*'] });
    expect(run(t, 'SET', 'user:1', 'a').ops).toHaveLength(1);
    const out = run(t, 'SET', 'user:tmp:1', 'a');
    expect(out.ops).toEqual([]);
    expect(out.notes).toEqual([]);
    expect(run(t, 'HSET', 'order:1', 'f', 'v').ops).toEqual([]);
    expect(t.stats.dropped.filtered).toBe(2);
  });

  it('binary and unicode keys, empty values pass through byte for byte', () => {
    const t = translator({ include: ['ключ*', '\\x00*'] });
    const binary = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0x80]);
    const unicode = Buffer.from('ключ:東京:🚀');
    // A glob matches bytes: the binary key starts with a NUL byte only when the pattern says so.
    expect(run(t, 'SET', binary, Buffer.alloc(0)).ops).toEqual([]);
    const t2 = translator({ include: ['ключ*', '\u0000*'] });
    expect(run(t2, 'SET', binary, Buffer.alloc(0)).ops).toEqual([{ kind: 'command', db: 0, key: binary, argv: [buf('SET'), binary, Buffer.alloc(0)] }]);
    const out = run(t2, 'RPUSH', unicode, '', 'значение');
    expect(out.ops[0]).toMatchObject({ key: unicode });
    expect((out.ops[0] as CommandOp).argv[2]).toEqual(Buffer.alloc(0));
    expect(run(t2, 'SET', 'other', 'x').ops).toEqual([]);
  });

  it('the type filter drops writes of other types; a write that replaces any value deletes the key instead', () => {
    const t = translator({ types: ['hash', 'list'] });
    expect(run(t, 'SADD', 's', 'm').ops).toEqual([]);
    expect(run(t, 'HSET', 'h', 'f', 'v').ops).toHaveLength(1);
    // SET over a list that was copied: the key is a string now, which the job does not copy.
    expect(texts(run(t, 'SET', 'was-a-list', 'v').ops)).toEqual([['DEL', 'was-a-list']]);
    expect(texts(run(t, 'MSET', 'a', '1', 'b', '2').ops)).toEqual([['DEL', 'a', 'b']]);
    expect(texts(run(t, 'SUNIONSTORE', 'dst', 'x', 'y').ops)).toEqual([['DEL', 'dst']]);
    // Type-free commands pass: on a key the target lacks they do nothing.
    expect(texts(run(t, 'DEL', 'anything').ops)).toEqual([['DEL', 'anything']]);
  });

  it('translatorOptionsFor: options.dbs, the target URL db, a cluster has only db 0', () => {
    const job = JobSchema.parse({
      name: 'j',
      sources: [{ name: 'a', url: 'redis://127.0.0.1:1' }],
      target: { url: 'redis://127.0.0.1:2' },
      options: { dbs: { '1': 0, '2': 3 }, ttl: { extendMs: 500 } },
    });
    const filter = new KeyFilter(job.options);
    const standalone = translatorOptionsFor(job, filter, { address: { db: 0, dbInPath: false }, facts: { versionParts: [7, 0, 15], clusterEnabled: false } });
    expect([0, 1, 2, 4].map(standalone.targetDbOf)).toEqual([0, 0, 3, 4]);
    expect(standalone.ttl).toEqual({ keep: true, extendMs: 500 });
    expect(standalone.target).toEqual({ cluster: false, version: [7, 0] });
    const cluster = translatorOptionsFor(job, filter, { address: { db: 0, dbInPath: false }, facts: { versionParts: [7, 2, 4], clusterEnabled: true } });
    expect([0, 1, 2, 4].map(cluster.targetDbOf)).toEqual([0, 0, null, null]);
    const inPath = translatorOptionsFor(job, filter, { address: { db: 6, dbInPath: true }, facts: { versionParts: [7, 2, 4], clusterEnabled: false } });
    expect([0, 1, 2, 4].map(inPath.targetDbOf)).toEqual([6, 0, 3, 6]);
  });
});

describe('expiries become absolute', () => {
  it('SET EX/PX/EXAT/PXAT -> SET … PXAT; GET dropped, NX/XX/KEEPTTL kept; no expiry passes unchanged', () => {
    const t = translator();
    expect(texts(run(t, 'SET', 'k', 'v', 'EX', '10').ops)).toEqual([['SET', 'k', 'v', 'PXAT', String(NOW + 10_000)]]);
    expect(texts(run(t, 'SET', 'k', 'v', 'NX', 'PX', '250', 'GET').ops)).toEqual([['SET', 'k', 'v', 'NX', 'PXAT', String(NOW + 250)]]);
    expect(texts(run(t, 'SET', 'k', 'v', 'EXAT', '1800000000').ops)).toEqual([['SET', 'k', 'v', 'PXAT', '1800000000000']]);
    expect(texts(run(t, 'SET', 'k', 'v', 'PXAT', '1800000000123').ops)).toEqual([['SET', 'k', 'v', 'PXAT', '1800000000123']]);
    expect(texts(run(t, 'SET', 'k', '', 'KEEPTTL').ops)).toEqual([['SET', 'k', '', 'KEEPTTL']]);
    expect(texts(run(t, 'SET', 'k', 'v').ops)).toEqual([['SET', 'k', 'v']]);
  });

  it('SETEX/PSETEX -> SET … PXAT; GETSET -> SET; GETDEL -> DEL', () => {
    const t = translator();
    expect(texts(run(t, 'SETEX', 'k', '5', 'v').ops)).toEqual([['SET', 'k', 'v', 'PXAT', String(NOW + 5000)]]);
    expect(texts(run(t, 'psetex', 'k', '5', 'v').ops)).toEqual([['SET', 'k', 'v', 'PXAT', String(NOW + 5)]]);
    expect(texts(run(t, 'GETSET', 'k', 'v').ops)).toEqual([['SET', 'k', 'v']]);
    expect(texts(run(t, 'GETDEL', 'k').ops)).toEqual([['DEL', 'k']]);
  });

  it('EXPIRE family -> PEXPIREAT with the time the command was read; EXPIREAT in seconds -> ms', () => {
    const t = translator();
    expect(texts(run(t, 'EXPIRE', 'k', '60').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 60_000)]]);
    expect(texts(run(t, 'PEXPIRE', 'k', '1500').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 1500)]]);
    expect(texts(run(t, 'EXPIREAT', 'k', '1800000000').ops)).toEqual([['PEXPIREAT', 'k', '1800000000000']]);
    expect(texts(run(t, 'PEXPIREAT', 'k', '1800000000001').ops)).toEqual([['PEXPIREAT', 'k', '1800000000001']]);
    // The same command read later gives a later expiry: the lag does not shorten the TTL.
    expect(texts(t.translate(['EXPIRE', 'k', '60'].map(buf), NOW + 5000).ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 65_000)]]);
  });

  it('EXPIRE flags are kept for a 7.x target and dropped for an older one (the source applied it)', () => {
    expect(texts(run(translator(), 'EXPIRE', 'k', '1', 'GT').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 1000), 'GT']]);
    expect(texts(run(translator({ target: { cluster: false, version: [6, 2] } }), 'EXPIRE', 'k', '1', 'GT').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 1000)]]);
  });

  it('GETEX EX/PX/EXAT/PXAT -> PEXPIREAT; PERSIST -> PERSIST; a plain GETEX is a read', () => {
    const t = translator();
    expect(texts(run(t, 'GETEX', 'k', 'EX', '3').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 3000)]]);
    expect(texts(run(t, 'GETEX', 'k', 'px', '3').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 3)]]);
    expect(texts(run(t, 'GETEX', 'k', 'EXAT', '1800000000').ops)).toEqual([['PEXPIREAT', 'k', '1800000000000']]);
    expect(texts(run(t, 'GETEX', 'k', 'PERSIST').ops)).toEqual([['PERSIST', 'k']]);
    expect(run(t, 'GETEX', 'k').ops).toEqual([]);
  });

  it('ttl.extendMs and the clock shift are added to every expiry', () => {
    const t = translator({ ttl: { keep: true, extendMs: 1000 }, clockShiftMs: -20 });
    expect(texts(run(t, 'SET', 'k', 'v', 'PX', '100').ops)).toEqual([['SET', 'k', 'v', 'PXAT', String(NOW + 1080)]]);
    expect(texts(run(t, 'PEXPIREAT', 'k', '1800000000000').ops)).toEqual([['PEXPIREAT', 'k', '1800000000980']]);
    expect(texts(run(t, 'GETEX', 'k', 'PX', '5').ops)).toEqual([['PEXPIREAT', 'k', String(NOW + 985)]]);
    const restore = run(t, 'RESTORE', 'k', '100', Buffer.from([0, 1, 2]));
    expect(text(restore.ops[0])).toEqual(['RESTORE', 'k', String(NOW + 1080), '\u0000\u0001\u0002', 'ABSTTL']);
  });

  it('ttl.keep false: expiries are dropped (counted) as the bulk writers drop them; one already past deletes the key', () => {
    const t = translator({ ttl: { keep: false, extendMs: 0 } });
    expect(texts(run(t, 'SET', 'k', 'v', 'EX', '10').ops)).toEqual([['SET', 'k', 'v']]);
    expect(texts(run(t, 'SETEX', 'k', '10', 'v').ops)).toEqual([['SET', 'k', 'v']]);
    expect(run(t, 'EXPIRE', 'k', '10').ops).toEqual([]);
    expect(run(t, 'GETEX', 'k', 'EX', '10').ops).toEqual([]);
    expect(t.stats.dropped.ttl).toBe(2);
    expect(texts(run(t, 'PEXPIREAT', 'k', String(NOW - 1)).ops)).toEqual([['DEL', 'k']]);
    expect(texts(run(t, 'PERSIST', 'k').ops)).toEqual([['PERSIST', 'k']]);
    const restore = run(t, 'RESTORE', 'k', String(NOW + 5000), Buffer.from([0, 9]), 'ABSTTL', 'REPLACE');
    expect(text(restore.ops[0])).toEqual(['RESTORE', 'k', '0', '\u0000\t', 'REPLACE']);
  });

  it('a target before 6.2 gets SET then PEXPIREAT in one transaction', () => {
    const t = translator({ target: { cluster: false, version: [6, 0] } });
    const [op] = run(t, 'SET', 'k', 'v', 'EX', '2').ops;
    expect(op.kind).toBe('transaction');
    expect(op.kind === 'transaction' && texts(op.ops)).toEqual([
      ['SET', 'k', 'v'],
      ['PEXPIREAT', 'k', String(NOW + 2000)],
    ]);
  });

  it('RESTORE: a relative ttl becomes ABSTTL, 0 stays 0, an expired one is a DEL; before 5.0 the rest of the ttl, no IDLETIME', () => {
    const t = translator();
    const payload = Buffer.from([0, 3, 0x61, 0x62, 0x63]);
    expect(text(run(t, 'RESTORE', 'k', '2000', payload, 'REPLACE').ops[0]).slice(0, 3)).toEqual(['RESTORE', 'k', String(NOW + 2000)]);
    expect(text(run(t, 'RESTORE', 'k', '2000', payload, 'REPLACE').ops[0]).slice(4)).toEqual(['REPLACE', 'ABSTTL']);
    expect(text(run(t, 'RESTORE', 'k', '1800000000000', payload, 'ABSTTL', 'IDLETIME', '5').ops[0]).slice(1)).toEqual(['k', '1800000000000', payload.toString('latin1'), 'IDLETIME', '5', 'ABSTTL']);
    expect(text(run(t, 'RESTORE', 'k', '0', payload).ops[0]).slice(0, 3)).toEqual(['RESTORE', 'k', '0']);
    // Already expired: the target does what the source did with it (nothing is created).
    expect(texts(run(t, 'RESTORE', 'k', String(NOW - 5), payload, 'ABSTTL').ops)[0].slice(0, 3)).toEqual(['RESTORE', 'k', String(NOW - 5)]);
    expect(texts(run(translator({ target: { cluster: false, version: [4, 0] } }), 'RESTORE', 'k', String(NOW - 5), payload, 'ABSTTL').ops)).toEqual([['DEL', 'k']]);
    const old = translator({ target: { cluster: false, version: [4, 0] } });
    expect(text(run(old, 'RESTORE', 'k', String(NOW + 700), payload, 'ABSTTL', 'IDLETIME', '5', 'REPLACE').ops[0])).toEqual(['RESTORE', 'k', '700', payload.toString('latin1'), 'REPLACE']);
  });

  it('RESTORE: the payload is adapted for the target, refused when it cannot be; its type meets the type filter', () => {
    const adapted = Buffer.from([0, 1, 0x78]);
    const t = translator({ adaptPayload: (p) => (p[1] === 0xee ? null : adapted) });
    expect(text(run(t, 'RESTORE', 'k', '0', Buffer.from([0, 1, 0x79])).ops[0])[3]).toBe(adapted.toString('latin1'));
    const refused = run(t, 'RESTORE', 'k', '0', Buffer.from([0, 0xee]));
    expect(refused.ops).toEqual([]);
    expect(refused.notes[0]).toMatchObject({ kind: 'refused', resync: [{ db: 0, key: buf('k') }] });
    const typed = translator({ types: ['string'] });
    // Payload type byte 2 = set: not copied, so the key must not stay on the target.
    expect(texts(run(typed, 'RESTORE', 'k', '0', Buffer.from([2, 0]), 'REPLACE').ops)).toEqual([['DEL', 'k']]);
  });

  it('hash field expiries: HEXPIRE/HPEXPIRE/HEXPIREAT -> HPEXPIREAT; HSETEX EX -> PXAT', () => {
    const t = translator();
    expect(texts(run(t, 'HEXPIRE', 'h', '10', 'NX', 'FIELDS', '1', 'f').ops)).toEqual([['HPEXPIREAT', 'h', String(NOW + 10_000), 'NX', 'FIELDS', '1', 'f']]);
    expect(texts(run(t, 'HEXPIREAT', 'h', '1800000000', 'FIELDS', '1', 'f').ops)).toEqual([['HPEXPIREAT', 'h', '1800000000000', 'FIELDS', '1', 'f']]);
    expect(texts(run(t, 'HSETEX', 'h', 'FNX', 'EX', '5', 'FIELDS', '1', 'f', 'v').ops)).toEqual([['HSETEX', 'h', 'FNX', 'PXAT', String(NOW + 5000), 'FIELDS', '1', 'f', 'v']]);
    const nokeep = translator({ ttl: { keep: false, extendMs: 0 } });
    expect(run(nokeep, 'HPEXPIRE', 'h', '10', 'FIELDS', '1', 'f').ops).toEqual([]);
    expect(texts(run(nokeep, 'HPEXPIREAT', 'h', '1', 'FIELDS', '2', 'f', 'g').ops)).toEqual([['HDEL', 'h', 'f', 'g']]);
    expect(texts(run(nokeep, 'HSETEX', 'h', 'PX', '5', 'FIELDS', '1', 'f', 'v').ops)).toEqual([['HSETEX', 'h', 'FIELDS', '1', 'f', 'v']]);
  });
});

describe('multi-key commands', () => {
  const cluster = (over: Partial<TranslatorOptions> & { include?: string[]; exclude?: string[] } = {}) => translator({ target: { cluster: true, version: [7, 2] }, ...over });

  it('DEL/UNLINK keep only the keys the filters copy; one command on a standalone target', () => {
    const t = translator({ exclude: ['tmp:*'] });
    expect(texts(run(t, 'DEL', 'a', 'tmp:1', 'b').ops)).toEqual([['DEL', 'a', 'b']]);
    expect(texts(run(t, 'UNLINK', 'tmp:1').ops)).toEqual([]);
    expect(t.stats.dropped.filtered).toBe(2);
  });

  it('DEL and MSET across slots of a cluster: one command per slot, with a split note', () => {
    const t = cluster();
    const keys = ['a', 'b', 'c', '{a}x'];
    const out = run(t, 'DEL', ...keys);
    const slots = new Set(keys.map((k) => keySlot(buf(k))));
    expect(out.ops).toHaveLength(slots.size);
    for (const op of out.ops) expect(new Set(text(op).slice(1).map((k) => keySlot(buf(k)))).size).toBe(1);
    expect(out.notes).toEqual([expect.objectContaining({ kind: 'split', command: 'DEL' })]);
    const mset = run(t, 'MSET', 'a', '1', 'b', '2', '{a}x', '3');
    expect(texts(mset.ops)).toContainEqual(['MSET', 'a', '1', '{a}x', '3']);
    expect(texts(mset.ops)).toContainEqual(['MSET', 'b', '2']);
    expect(texts(run(t, 'MSET', T1, '1', T2, '2').ops)).toEqual([['MSET', T1, '1', T2, '2']]);
  });

  it('MSETNX of a part of its keys becomes MSET (propagated means every key was set)', () => {
    const t = translator({ exclude: ['x*'] });
    expect(texts(run(t, 'MSETNX', 'a', '1', 'xb', '2').ops)).toEqual([['MSET', 'a', '1']]);
    expect(texts(run(t, 'MSETNX', 'a', '1', 'b', '2').ops)).toEqual([['MSETNX', 'a', '1', 'b', '2']]);
  });

  it('RENAME: whole in one slot; across slots a copy that deletes the source; across the filter boundary says what happens', () => {
    expect(texts(run(translator(), 'RENAME', A1, B1).ops)).toEqual([['RENAME', A1, B1]]);
    expect(texts(run(cluster(), 'RENAMENX', T1, T2).ops)).toEqual([['RENAMENX', T1, T2]]);
    const across = run(cluster(), 'RENAME', A1, B1);
    expect(across.ops).toEqual([{ kind: 'copy', fromDb: 0, from: buf(A1), toDb: 0, to: buf(B1), deleteSource: true }]);
    expect(across.notes[0]).toMatchObject({ kind: 'split', command: 'RENAME' });
    const t = translator({ exclude: ['tmp:*'] });
    const out = run(t, 'RENAME', 'job:1', 'tmp:1');
    expect(texts(out.ops)).toEqual([['DEL', 'job:1']]);
    expect(out.notes[0]).toMatchObject({ kind: 'reported', level: 'info' });
    expect(out.notes[0].message).toContain('deleted on the target');
    const inward = run(t, 'RENAME', 'tmp:2', 'job:2');
    expect(texts(inward.ops)).toEqual([['DEL', 'job:2']]);
    expect(inward.notes[0]).toMatchObject({ kind: 'reported', level: 'warning', resync: [{ db: 0, key: buf('job:2') }] });
    expect(run(t, 'RENAME', 'tmp:1', 'tmp:2').ops).toEqual([]);
  });

  it('COPY: across dbs with the mapped db, between dbs that meet in one target db nothing, across slots a copy', () => {
    const t = translator({ targetDbOf: (db) => (db === 1 ? 4 : db === 2 ? 0 : db) });
    expect(texts(run(t, 'COPY', 'a', 'b', 'DB', '1', 'REPLACE').ops)).toEqual([['COPY', 'a', 'b', 'DB', '4', 'REPLACE']]);
    expect(texts(run(t, 'COPY', 'a', 'b').ops)).toEqual([['COPY', 'a', 'b']]);
    const same = run(t, 'COPY', 'a', 'a', 'DB', '2');
    expect(same.ops).toEqual([]);
    expect(same.notes[0].message).toContain('already there');
    const across = run(cluster(), 'COPY', A1, B1);
    expect(across.ops).toEqual([{ kind: 'copy', fromDb: 0, from: buf(A1), toDb: 0, to: buf(B1), deleteSource: false }]);
  });

  it('MOVE: to a mapped db translated; both dbs into one target db reported; to a db not copied deletes', () => {
    const t = translator({ targetDbOf: (db) => (db === 1 ? 3 : db === 2 ? 0 : db === 9 ? null : db) });
    expect(run(t, 'MOVE', 'k', '1').ops).toEqual([{ kind: 'command', db: 0, key: buf('k'), argv: ['MOVE', 'k', '3'].map(buf) }]);
    const same = run(t, 'MOVE', 'k', '2');
    expect(same.ops).toEqual([]);
    expect(same.notes[0]).toMatchObject({ kind: 'reported' });
    const away = run(t, 'MOVE', 'k', '9');
    expect(texts(away.ops)).toEqual([['DEL', 'k']]);
  });

  it('SMOVE across slots -> SREM + SADD; across the filter boundary only the half that is copied', () => {
    const out = run(cluster(), 'SMOVE', A1, B1, 'm');
    expect(texts(out.ops)).toEqual([
      ['SREM', A1, 'm'],
      ['SADD', B1, 'm'],
    ]);
    const t = translator({ exclude: ['x*'] });
    expect(texts(run(t, 'SMOVE', 'a', 'xb', 'm').ops)).toEqual([['SREM', 'a', 'm']]);
    expect(texts(run(t, 'SMOVE', 'xa', 'b', 'm').ops)).toEqual([['SADD', 'b', 'm']]);
  });

  it('LMOVE/RPOPLPUSH/BLMOVE: LMOVE in one slot; across slots a pop and push', () => {
    expect(texts(run(translator(), 'BLMOVE', 'a', 'b', 'LEFT', 'RIGHT', '0').ops)).toEqual([['LMOVE', 'a', 'b', 'LEFT', 'RIGHT']]);
    expect(texts(run(translator(), 'RPOPLPUSH', 'a', 'b').ops)).toEqual([['LMOVE', 'a', 'b', 'RIGHT', 'LEFT']]);
    const out = run(cluster(), 'RPOPLPUSH', A1, B1);
    expect(out.ops).toEqual([{ kind: 'popPush', db: 0, from: buf(A1), to: buf(B1), pop: 'RPOP', push: 'LPUSH' }]);
    const t = translator({ exclude: ['x*'] });
    expect(texts(run(t, 'LMOVE', 'a', 'xb', 'right', 'left').ops)).toEqual([['RPOP', 'a']]);
    const inward = run(t, 'LMOVE', 'xa', 'b', 'LEFT', 'LEFT');
    expect(inward.ops).toEqual([]);
    expect(inward.notes[0].resync).toEqual([{ db: 0, key: buf('b') }]);
  });

  it('SUNIONSTORE across slots: sources copied into temp keys in the destination slot, run there, temps removed', () => {
    const out = run(cluster(), 'SUNIONSTORE', 'dst', A1, B1, 'dst');
    const dstSlot = keySlot(buf('dst'));
    const copies = out.ops.filter((op) => op.kind === 'copy');
    const movedAway = [A1, B1].filter((k) => keySlot(buf(k)) !== dstSlot);
    expect(copies).toHaveLength(movedAway.length);
    const command = out.ops[copies.length] as CommandOp;
    expect(command.argv[0].toString()).toBe('SUNIONSTORE');
    expect(command.argv.slice(1).every((k) => keySlot(k) === dstSlot)).toBe(true);
    const unlink = out.ops[copies.length + 1] as CommandOp;
    expect(unlink.argv[0].toString()).toBe('UNLINK');
    expect(unlink.argv.slice(1).map(String).sort()).toEqual(copies.map((c) => (c.kind === 'copy' ? c.to.toString() : '')).sort());
    expect(out.notes[0]).toMatchObject({ kind: 'split', command: 'SUNIONSTORE' });
    // All in one slot: sent as is.
    expect(texts(run(cluster(), 'SINTERSTORE', T1, T2, T1).ops)).toEqual([['SINTERSTORE', T1, T2, T1]]);
  });

  it('ZUNIONSTORE (numkeys), BITOP, PFMERGE, SORT … STORE, GEORADIUS … STORE find their keys', () => {
    const c = cluster();
    const z = run(c, 'ZUNIONSTORE', 'dst', '2', A1, B1, 'WEIGHTS', '1', '2');
    const zcmd = z.ops.find((op) => op.kind === 'command' && op.argv[0].toString() === 'ZUNIONSTORE') as CommandOp;
    expect(zcmd.argv.slice(5).map(String)).toEqual(['WEIGHTS', '1', '2']);
    expect([1, 3, 4].every((i) => keySlot(zcmd.argv[i]) === keySlot(buf('dst')))).toBe(true);
    const bit = run(c, 'BITOP', 'OR', 'dst', A1, B1);
    expect(bit.ops.filter((op) => op.kind === 'copy').length).toBeGreaterThan(0);
    const sortStore = run(translator(), 'SORT', 'src', 'ALPHA', 'STORE', 'dst');
    expect(sortStore.ops[0]).toMatchObject({ key: buf('dst') });
    expect(run(translator(), 'SORT', 'src', 'ALPHA').ops).toEqual([]);
    const geo = run(translator({ exclude: ['dst'] }), 'GEORADIUS', 'src', '0', '0', '10', 'km', 'STORE', 'dst');
    expect(geo.ops).toEqual([]);
    const pf = run(c, 'PFMERGE', T1, T2);
    expect(texts(pf.ops)).toEqual([['PFMERGE', T1, T2]]);
  });

  it('a store command reading a left-out key deletes its destination and asks for a fresh copy', () => {
    const t = translator({ exclude: ['secret:*'] });
    const out = run(t, 'SUNIONSTORE', 'dst', 'a', 'secret:b');
    expect(texts(out.ops)).toEqual([['DEL', 'dst']]);
    expect(out.notes[0]).toMatchObject({ kind: 'reported', resync: [{ db: 0, key: buf('dst') }] });
    expect(run(t, 'SUNIONSTORE', 'secret:dst', 'a').ops).toEqual([]);
  });
});

describe('FLUSHDB / FLUSHALL rule', () => {
  it('forwarded to the mapped target db when this source is its only writer', () => {
    const t = translator({ targetDbOf: (db) => (db === 2 ? 5 : db === 5 ? 2 : db) });
    run(t, 'SELECT', '2');
    const out = run(t, 'FLUSHDB', 'ASYNC');
    expect(out.ops).toEqual([{ kind: 'command', db: 5, key: null, argv: ['FLUSHDB', 'ASYNC'].map(buf) }]);
    expect(out.notes[0]).toMatchObject({ kind: 'reported', level: 'info' });
  });

  it('refused and reported in a merge (several sources), when dbs fold into one, or with filters', () => {
    const merge = translator({ sourcesWriting: 3 });
    const out = run(merge, 'FLUSHDB');
    expect(out.ops).toEqual([]);
    expect(out.notes[0]).toMatchObject({ kind: 'refused', level: 'warning', command: 'FLUSHDB' });
    expect(out.notes[0].message).toContain('3 sources write into the target');
    const folded = translator({ targetDbOf: (db) => (db === 1 ? 0 : db) });
    run(folded, 'SELECT', '1');
    expect(run(folded, 'FLUSHDB').notes[0].message).toContain('source db 0 also goes to target db 0');
    const filtered = translator({ include: ['a*'] });
    expect(run(filtered, 'FLUSHDB').notes[0].message).toContain('filters');
    const typed = translator({ types: ['hash'] });
    expect(run(typed, 'FLUSHDB').ops).toEqual([]);
    expect(merge.stats.dropped.refused).toBe(1);
  });

  it('FLUSHALL: FLUSHDB of each target db the rule allows, one note per source db it does not', () => {
    const t = translator({ sourceDbCount: 4, targetDbOf: (db) => (db === 3 ? 2 : db) });
    const out = run(t, 'FLUSHALL');
    expect(out.ops.map((op) => (op as CommandOp).db)).toEqual([0, 1]);
    expect(out.notes.filter((n) => n.kind === 'refused').map((n) => n.db)).toEqual([2, 3]);
    // A cluster target: every other source db is not copied, db 0 is flushed on every master.
    const c = translator({ target: { cluster: true, version: [7, 2] }, targetDbOf: (db) => (db === 0 ? 0 : null) });
    expect(run(c, 'FLUSHALL', 'SYNC').ops).toEqual([{ kind: 'command', db: 0, key: null, argv: ['FLUSHDB', 'SYNC'].map(buf) }]);
  });
});

describe('transactions', () => {
  it('MULTI … EXEC: pending until EXEC, then one transaction op', () => {
    const t = translator();
    expect(run(t, 'MULTI')).toMatchObject({ ops: [], pending: true });
    expect(run(t, 'SET', 'a', '1')).toMatchObject({ ops: [], pending: true });
    expect(run(t, 'INCR', 'b')).toMatchObject({ ops: [], pending: true });
    const out = run(t, 'EXEC');
    expect(out.pending).toBe(false);
    expect(out.ops).toHaveLength(1);
    expect(out.ops[0].kind).toBe('transaction');
    expect(out.ops[0].kind === 'transaction' && texts(out.ops[0].ops)).toEqual([
      ['SET', 'a', '1'],
      ['INCR', 'b'],
    ]);
    expect(out.notes).toEqual([]);
  });

  it('a transaction with one command is that command; filtered commands leave it', () => {
    const t = translator({ exclude: ['x'] });
    run(t, 'MULTI');
    run(t, 'SET', 'x', '1');
    run(t, 'SET', 'a', '1');
    expect(texts(run(t, 'EXEC').ops)).toEqual([['SET', 'a', '1']]);
  });

  it('a transaction over two target dbs becomes one per db, with a note', () => {
    const t = translator();
    for (const cmd of [['MULTI'], ['SET', 'a', '1'], ['SELECT', '1'], ['SET', 'b', '1'], ['SELECT', '0'], ['DEL', 'c']]) run(t, ...cmd);
    const out = run(t, 'EXEC');
    expect(out.ops.map((op) => [op.kind, (op as { db: number }).db])).toEqual([
      ['transaction', 0],
      ['command', 1],
    ]);
    expect(out.notes[0]).toMatchObject({ kind: 'split', command: 'EXEC', level: 'warning' });
  });

  it('on a cluster target: one transaction per slot, copies cut between them in order', () => {
    const t = translator({ target: { cluster: true, version: [7, 2] } });
    for (const cmd of [['MULTI'], ['SET', T1, '1'], ['SET', A1, '1'], ['SET', T2, '2'], ['RENAME', A1, B1], ['SET', A1, '3']]) run(t, ...cmd);
    const out = run(t, 'EXEC');
    expect(out.ops.map((op) => op.kind)).toEqual(['transaction', 'command', 'copy', 'command']);
    expect(out.ops[0].kind === 'transaction' && texts(out.ops[0].ops)).toEqual([
      ['SET', T1, '1'],
      ['SET', T2, '2'],
    ]);
    expect(out.notes.find((n) => n.command === 'EXEC')?.message).toContain('4 parts');
  });

  it('an older target: SET … EX inside MULTI joins the outer transaction', () => {
    const t = translator({ target: { cluster: false, version: [5, 0] } });
    for (const cmd of [['MULTI'], ['SET', 'a', '1', 'PX', '10'], ['INCR', 'a']]) run(t, ...cmd);
    const out = run(t, 'EXEC');
    expect(out.ops[0].kind === 'transaction' && texts(out.ops[0].ops).map((a) => a[0])).toEqual(['SET', 'PEXPIREAT', 'INCR']);
  });
});

describe('scripts, server commands, the rest', () => {
  it('EVAL as a script (Redis ≤ 4) runs on the target with its first key; reported', () => {
    const t = translator();
    const out = run(t, 'EVAL', "redis.call('set', KEYS[1], ARGV[1])", '1', 'k', 'v');
    expect(out.ops[0]).toMatchObject({ kind: 'command', key: buf('k') });
    expect(out.notes[0]).toMatchObject({ kind: 'reported', command: 'EVAL' });
    const ex = translator({ exclude: ['secret'] });
    const refused = run(ex, 'EVALSHA', 'abc', '2', 'k', 'secret');
    expect(refused.ops).toEqual([]);
    expect(refused.notes[0]).toMatchObject({ kind: 'refused', resync: [{ db: 0, key: buf('k') }] });
    const c = translator({ target: { cluster: true, version: [7, 2] } });
    expect(run(c, 'EVAL', 's', '2', A1, B1).notes[0]).toMatchObject({ kind: 'refused' });
    expect(run(c, 'EVAL', 's', '2', T1, T2).ops).toHaveLength(1);
    expect(run(t, 'EVAL_RO', 's', '0').ops).toEqual([]);
  });

  it('SCRIPT LOAD goes to every master, SCRIPT FLUSH does not; FUNCTION LOAD does, FUNCTION FLUSH not in a merge', () => {
    const t = translator();
    expect(run(t, 'SCRIPT', 'LOAD', 'return 1').ops).toEqual([{ kind: 'command', db: 0, key: null, argv: ['SCRIPT', 'LOAD', 'return 1'].map(buf) }]);
    expect(run(t, 'SCRIPT', 'FLUSH').ops).toEqual([]);
    expect(run(t, 'FUNCTION', 'LOAD', '#!lua name=x').ops[0]).toMatchObject({ key: null });
    const merge = translator({ sourcesWriting: 2 });
    expect(run(merge, 'FUNCTION', 'FLUSH').notes[0]).toMatchObject({ kind: 'refused' });
    expect(run(t, 'FUNCTION', 'FLUSH').ops).toHaveLength(1);
  });

  it('PUBLISH, PING, REPLCONF are dropped and counted, without notes', () => {
    const t = translator();
    for (const cmd of [['PUBLISH', 'ch', 'm'], ['SPUBLISH', 'ch', 'm'], ['PING'], ['REPLCONF', 'GETACK', '*']]) {
      const out = run(t, ...cmd);
      expect(out).toEqual({ ops: [], notes: [], pending: false });
    }
    expect(t.stats.dropped.pubsub).toBe(2);
    expect(t.stats.dropped.protocol).toBe(2);
  });

  it('SWAPDB is refused with a note', () => {
    const out = run(translator(), 'SWAPDB', '0', '1');
    expect(out.ops).toEqual([]);
    expect(out.notes[0]).toMatchObject({ kind: 'refused', command: 'SWAPDB', level: 'warning' });
  });

  it('verbatim blocking pops and SPOP (Redis sends their effects) are refused with a resync of their keys', () => {
    const out = run(translator(), 'BLPOP', 'a', 'b', '0');
    expect(out.ops).toEqual([]);
    expect(out.notes[0].resync?.map((r) => r.key.toString())).toEqual(['a', 'b']);
    expect(run(translator(), 'SPOP', 's').notes[0].kind).toBe('refused');
  });

  it('streams: XADD with its ID, XGROUP (key at 2), XACK, XCLAIM pass on', () => {
    const t = translator({ exclude: ['other'] });
    expect(texts(run(t, 'XADD', 's', '1-1', 'f', 'v').ops)).toEqual([['XADD', 's', '1-1', 'f', 'v']]);
    expect(run(t, 'XGROUP', 'CREATE', 's', 'g', '$').ops[0]).toMatchObject({ key: buf('s') });
    expect(run(t, 'XGROUP', 'CREATE', 'other', 'g', '$').ops).toEqual([]);
    expect(run(t, 'XACK', 's', 'g', '1-1').ops).toHaveLength(1);
    expect(run(t, 'XCLAIM', 's', 'g', 'c', '0', '1-1').ops).toHaveLength(1);
  });

  it('unknown commands are reported and not applied, unless the server command table names their key', () => {
    const t = translator();
    const out = run(t, 'MYMOD.SET', 'k', 'v');
    expect(out.ops).toEqual([]);
    expect(out.notes[0]).toMatchObject({ kind: 'refused', command: 'MYMOD.SET' });
    const withTable = translator({ extraCommands: new Map([['mymod.set', { first: 1, last: 1, step: 1 }]]), exclude: ['x'] });
    expect(run(withTable, 'mymod.set', 'k', 'v').ops[0]).toMatchObject({ key: buf('k') });
    expect(run(withTable, 'mymod.set', 'x', 'v').ops).toEqual([]);
    const binaryName = run(t, Buffer.from([0xff, 0x00]), 'k');
    expect(binaryName.notes[0].command).toBe('0xff00');
  });
});

describe('command table', () => {
  it('key positions follow first/last/step', () => {
    expect(keyIndexes(WRITE_COMMANDS.get('mset')!, 7)).toEqual([1, 3, 5]);
    expect(keyIndexes(WRITE_COMMANDS.get('del')!, 4)).toEqual([1, 2, 3]);
    expect(keyIndexes(WRITE_COMMANDS.get('blpop')!, 4)).toEqual([1, 2]);
    expect(keyIndexes(WRITE_COMMANDS.get('bitop')!, 5)).toEqual([2, 3, 4]);
    expect(keyIndexes(WRITE_COMMANDS.get('flushdb')!, 1)).toEqual([]);
  });

  it('reads a COMMAND reply', () => {
    const specs = keySpecsFromCommandReply([
      ['mymod.set', -3, ['write'], 1, 1, 1],
      [Buffer.from('zunionstore'), -4, ['write', 'movablekeys'], 1, 1, 1],
    ]);
    expect(specs.get('mymod.set')).toEqual({ first: 1, last: 1, step: 1 });
    expect(specs.get('zunionstore')).toEqual({ first: 1, last: 1, step: 1, movable: true });
  });
});
