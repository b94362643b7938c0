import type { Job } from '../../../shared/job.js';
import type { RedisAddress } from '../endpoints/redisUrl.js';
import type { ServerFacts } from '../endpoints/serverFacts.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { keySlot, sameSlotName } from '../keys/hashSlot.js';
import { KEY_TYPES, payloadType, type KeyType } from '../keys/keyTypes.js';
import { targetDbMapping } from '../run/dbMapping.js';
import { describeKey } from '../run/describeKey.js';
import { keyIndexes, WRITE_COMMANDS, type KeySpec } from './commandTable.js';

// ---------------------------------------------------------------------------
// What the translator produces
// ---------------------------------------------------------------------------

/** One command for the target: `key` routes it (cluster slot); null = not about a key (every master). */
export interface CommandOp {
  kind: 'command';
  db: number;
  key: Buffer | null;
  argv: Buffer[];
}

/** Commands that must run as one MULTI…EXEC on one connection: one target db, and one slot on a cluster. */
export interface TransactionOp {
  kind: 'transaction';
  db: number;
  /** Routes the whole transaction (all its keys share this key's slot). */
  key: Buffer;
  ops: CommandOp[];
}

/**
 * A key's value copied to another key on the target (DUMP + PTTL, then RESTORE … REPLACE), and the
 * source key deleted when `deleteSource`: RENAME/COPY across slots or dbs, and the temp keys that
 * let a multi-key command run in one slot.
 */
export interface CopyOp {
  kind: 'copy';
  fromDb: number;
  from: Buffer;
  toDb: number;
  to: Buffer;
  deleteSource: boolean;
}

/** LMOVE/RPOPLPUSH across slots: pop from `from`, push the popped element onto `to`. */
export interface PopPushOp {
  kind: 'popPush';
  db: number;
  from: Buffer;
  to: Buffer;
  pop: 'LPOP' | 'RPOP';
  push: 'LPUSH' | 'RPUSH';
}

export type TargetOp = CommandOp | TransactionOp | CopyOp | PopPushOp;

/**
 * Something a person should know about one command: `split` (applied in parts, exactly), `reported`
 * (applied differently or partly: the message says how), `refused` (not applied, on purpose).
 * Messages name commands and keys, never values.
 */
export interface TranslationNote {
  kind: 'split' | 'reported' | 'refused';
  level: 'info' | 'warning';
  command: string;
  /** The source db the command ran in. */
  db: number;
  keys: Buffer[];
  message: string;
  /** Keys (source db and name) the target no longer holds exactly: copy them again from the source. */
  resync?: Array<{ db: number; key: Buffer }>;
}

export interface Translation {
  ops: TargetOp[];
  notes: TranslationNote[];
  /** A MULTI is open: the command's effects arrive with its EXEC, so its offset is not acknowledged alone. */
  pending: boolean;
}

export interface TranslatorStats {
  commands: number;
  ops: number;
  /** Commands (or keys of a split command) left out, by reason. */
  dropped: {
    /** include/exclude globs or the type list leave the key out */
    filtered: number;
    /** the source db is not copied */
    unmappedDb: number;
    /** an expiry with ttl.keep: false */
    ttl: number;
    /** PUBLISH, SPUBLISH */
    pubsub: number;
    /** PING, REPLCONF, SELECT, MULTI, EXEC */
    protocol: number;
    /** refused or unknown (each has a note) */
    refused: number;
  };
  split: number;
  reported: number;
}

// ---------------------------------------------------------------------------
// Options
// ---------------------------------------------------------------------------

export interface TranslatorOptions {
  /** Source db -> target db, or null when that db is not copied (a cluster target has only db 0). */
  targetDbOf(sourceDb: number): number | null;
  filter: KeyFilter;
  /** options.ttl: keep false = keys are written without expiry (as the bulk writers do). */
  ttl: { keep: boolean; extendMs: number };
  target: {
    cluster: boolean;
    /** [major, minor]: SET … PXAT needs 6.2, RESTORE … ABSTTL 5.0, EXPIRE flags 7.0. */
    version: [number, number];
  };
  /** Sources of the job writing into the target (the FLUSHDB rule). */
  sourcesWriting: number;
  /** The source's number of dbs (`databases`, 16 by default): the FLUSHDB rule checks they don't share a target db. */
  sourceDbCount: number;
  /** Target clock minus source clock, ms: added to every absolute expiry. */
  clockShiftMs?: number;
  /** A RESTORE payload the target can read (transcoded for an older one), or null when it cannot hold it. */
  adaptPayload?(payload: Buffer): Buffer | null;
  /** Key positions of commands the table lacks (modules), e.g. from keySpecsFromCommandReply. */
  extraCommands?: ReadonlyMap<string, KeySpec>;
}

/** The translator's options for one source of a job, from the job and the opened target. */
export function translatorOptionsFor(
  job: Job,
  filter: KeyFilter,
  target: { address: Pick<RedisAddress, 'db' | 'dbInPath'>; facts: Pick<ServerFacts, 'versionParts' | 'clusterEnabled'> },
  more: { sourceDbCount?: number; clockShiftMs?: number; adaptPayload?(payload: Buffer): Buffer | null } = {},
): TranslatorOptions {
  const mapped = targetDbMapping(job, target.address);
  const cluster = target.facts.clusterEnabled;
  return {
    targetDbOf: (db) => {
      const t = mapped(db);
      return cluster && t !== 0 ? null : t;
    },
    filter,
    ttl: { keep: job.options.ttl.keep, extendMs: job.options.ttl.extendMs },
    target: { cluster, version: [target.facts.versionParts[0], target.facts.versionParts[1]] },
    sourcesWriting: job.sources.length,
    sourceDbCount: more.sourceDbCount ?? 16,
    clockShiftMs: more.clockShiftMs,
    adaptPayload: more.adaptPayload,
  };
}

// ---------------------------------------------------------------------------
// The translator
// ---------------------------------------------------------------------------

/** Names of the temp keys a multi-key command runs on in a cluster (found in the destination's slot). */
const TEMP_TAG = ':ferry-live-tmp:';
const STORE_NAMES = new Set(['sunionstore', 'sinterstore', 'sdiffstore', 'zunionstore', 'zinterstore', 'zdiffstore', 'zrangestore', 'geosearchstore', 'pfmerge', 'bitop', 'sort', 'georadius', 'georadiusbymember']);
/** Verbatim forms Redis never propagates (it sends their effects): seeing one means the result is unknown. */
const NONDETERMINISTIC = new Set(['blpop', 'brpop', 'bzpopmin', 'bzpopmax', 'lmpop', 'blmpop', 'zmpop', 'bzmpop', 'spop', 'xreadgroup']);
const READ_ONLY_SCRIPTS = new Set(['eval_ro', 'evalsha_ro', 'fcall_ro']);

const b = (s: string) => Buffer.from(s);
const upper = (arg: Buffer | undefined) => (arg ? arg.toString('latin1').toUpperCase() : '');

/** A whole number argument, or NaN. */
function int(arg: Buffer | undefined): number {
  const text = arg?.toString('latin1') ?? '';
  return /^-?\d+$/.test(text) ? Number(text) : NaN;
}

function sameKey(a: Buffer, c: Buffer): boolean {
  return a.equals(c);
}

/**
 * Turns the commands of a replication stream into operations on the target. Pure: no I/O, the
 * time comes in with each command. State: the source db (SELECT) and an open MULTI.
 *
 * Relative expiries become absolute with the time the command was read (`nowMs`, source clock), so
 * the TTLs do not drift while the stream lags; `ttl.extendMs` and the clock shift are added to
 * every expiry; with `ttl.keep: false` expiries are left out, as the bulk writers write keys
 * without one (an expiry already past deletes the key, as on the source).
 */
export class CommandTranslator {
  private sourceDb = 0;
  /** Ops of the open MULTI, emitted at its EXEC. */
  private txn: TargetOp[] | null = null;
  private out: Translation = { ops: [], notes: [], pending: false };
  private now = 0;
  readonly stats: TranslatorStats = {
    commands: 0,
    ops: 0,
    dropped: { filtered: 0, unmappedDb: 0, ttl: 0, pubsub: 0, protocol: 0, refused: 0 },
    split: 0,
    reported: 0,
  };

  constructor(private readonly opts: TranslatorOptions) {}

  /** The source db the next command runs in. */
  get db(): number {
    return this.sourceDb;
  }

  get inTransaction(): boolean {
    return this.txn !== null;
  }

  /** After the stream restarted (a new sync): db 0, no open MULTI. */
  reset(db = 0): void {
    this.sourceDb = db;
    this.txn = null;
  }

  translate(argv: readonly Buffer[], nowMs: number): Translation {
    this.out = { ops: [], notes: [], pending: false };
    this.now = nowMs;
    this.stats.commands++;
    const name = argv.length ? argv[0].toString('latin1').toLowerCase() : '';
    switch (name) {
      case 'select': {
        const db = int(argv[1]);
        if (db >= 0) this.sourceDb = db;
        this.stats.dropped.protocol++;
        break;
      }
      case 'multi':
        // A MULTI inside a MULTI cannot come from Redis; keep what was queued rather than lose it.
        if (this.txn) this.out.ops.push(...this.closeTransaction(this.txn));
        this.txn = [];
        this.stats.dropped.protocol++;
        break;
      case 'exec':
        this.stats.dropped.protocol++;
        if (this.txn) {
          const queued = this.txn;
          this.txn = null;
          this.out.ops.push(...this.closeTransaction(queued));
        }
        break;
      case '':
        break;
      default:
        this.command(name, argv as Buffer[]);
    }
    this.out.pending = this.txn !== null;
    this.stats.ops += this.out.ops.length;
    return this.out;
  }

  // -------------------------------------------------------------------------

  private command(name: string, argv: Buffer[]): void {
    switch (name) {
      case 'ping':
      case 'replconf':
        this.stats.dropped.protocol++;
        return;
      case 'publish':
      case 'spublish':
        this.stats.dropped.pubsub++;
        return;
      case 'flushdb':
        return this.flushdb(argv);
      case 'flushall':
        return this.flushall(argv);
      case 'swapdb':
        return this.refuse(argv, [], `SWAPDB ${argv[1]} ${argv[2]} is not applied: swapping whole dbs on a live target that others write to is unsafe. The target dbs for source dbs ${argv[1]} and ${argv[2]} now differ from the source: copy them again`);
      case 'script':
        return this.script(argv);
      case 'function':
        return this.functionCommand(argv);
      case 'eval':
      case 'evalsha':
      case 'fcall':
        return this.scriptRun(argv);
      case 'set':
        return this.set(argv);
      case 'setex':
      case 'psetex': {
        const n = int(argv[2]);
        if (Number.isNaN(n) || !argv[3]) return this.asIs(argv);
        return this.writeString(argv[1], argv[3], [], this.now + (name === 'setex' ? n * 1000 : n));
      }
      case 'getset':
        // GETSET is SET with a reply: it also drops the TTL.
        if (!argv[2]) return this.asIs(argv);
        return this.writeString(argv[1], argv[2], [], null);
      case 'getdel':
        return this.keyCommand(argv[1], [b('DEL'), argv[1]]);
      case 'getex':
        return this.getex(argv);
      case 'expire':
      case 'pexpire':
      case 'expireat':
      case 'pexpireat':
        return this.expire(name, argv);
      case 'restore':
      case 'restore-asking':
        return this.restore(argv);
      case 'hexpire':
      case 'hpexpire':
      case 'hexpireat':
      case 'hpexpireat':
        return this.hashFieldExpire(name, argv);
      case 'hsetex':
      case 'hgetex':
        return this.hashExpiryOption(name, argv);
      case 'del':
      case 'unlink':
        return this.perKey(argv, 1);
      case 'mset':
      case 'msetnx':
        return this.perKey(argv, 2);
      case 'rename':
      case 'renamenx':
        return this.rename(argv);
      case 'copy':
        return this.copy(argv);
      case 'move':
        return this.move(argv);
      case 'smove':
        return this.smove(argv);
      case 'lmove':
      case 'blmove':
      case 'rpoplpush':
      case 'brpoplpush':
        return this.listMove(name, argv);
    }
    if (STORE_NAMES.has(name)) return this.store(name, argv);
    if (NONDETERMINISTIC.has(name)) {
      const keys = this.declaredKeys(name, argv);
      return this.refuse(argv, keys, `${name.toUpperCase()} arrived as itself, not as its effects (Redis propagates what it popped or read): its result is unknown here, so it is not applied; copy the keys again`, keys);
    }
    if (READ_ONLY_SCRIPTS.has(name)) return;
    this.generic(name, argv);
  }

  /** A command about keys at fixed positions (the table, or the server's own for module commands). */
  private generic(name: string, argv: Buffer[]): void {
    const spec = WRITE_COMMANDS.get(name) ?? this.opts.extraCommands?.get(name);
    const positions = spec && !spec.movable ? keyIndexes(spec, argv.length) : [];
    if (!spec || positions.length === 0) {
      return this.refuse(argv, [], `unknown command ${printable(argv[0])}: not applied (its key positions are not known; a module command needs the source's COMMAND table)`);
    }
    const keys = positions.map((i) => argv[i]);
    const tdb = this.targetDb();
    if (tdb === null) return;
    if (!keys.every((k) => this.opts.filter.matchesKey(k))) {
      if (keys.length === 1) {
        this.stats.dropped.filtered++;
        return;
      }
      const kept = keys.filter((k) => this.opts.filter.matchesKey(k));
      if (kept.length === 0) {
        this.stats.dropped.filtered++;
        return;
      }
      return this.refuse(argv, keys, `${printable(argv[0])} reads or writes keys the filters leave out as well as keys they copy: not applied; copy the copied ones again`, kept);
    }
    if (spec.type && !this.opts.filter.matchesType(spec.type)) {
      this.stats.dropped.filtered++;
      // A command that replaces any value leaves a key of an excluded type: it must not stay on the target.
      if (spec.overwrites) this.emit({ kind: 'command', db: tdb, key: keys[0], argv: [b('DEL'), keys[0]] });
      return;
    }
    if (this.opts.target.cluster && !sameSlot(keys)) {
      return this.refuse(argv, keys, `${printable(argv[0])} spans several slots of the cluster target and has no per-key form: not applied; copy its keys again`, keys);
    }
    this.emit({ kind: 'command', db: tdb, key: keys[0], argv });
  }

  // ---- expiries -----------------------------------------------------------

  /** An absolute expiry (ms, source clock) as written to the target. */
  private expiryAt(atMs: number): number {
    return atMs + this.opts.ttl.extendMs + (this.opts.clockShiftMs ?? 0);
  }

  private supports(major: number, minor: number): boolean {
    const [a, c] = this.opts.target.version;
    return a > major || (a === major && c >= minor);
  }

  private set(argv: Buffer[]): void {
    const [, key, value] = argv;
    if (!value) return this.asIs(argv);
    const flags: Buffer[] = [];
    let at: number | null = null;
    for (let i = 3; i < argv.length; i++) {
      const opt = upper(argv[i]);
      if (opt === 'NX' || opt === 'XX' || opt === 'KEEPTTL') flags.push(argv[i]);
      else if (opt === 'GET') continue; // only changes the reply (a refusal on the source was not propagated)
      else if (opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') {
        const n = int(argv[++i]);
        if (Number.isNaN(n)) return this.asIs(argv);
        at = opt === 'EX' ? this.now + n * 1000 : opt === 'PX' ? this.now + n : opt === 'EXAT' ? n * 1000 : n;
      } else return this.asIs(argv);
    }
    this.writeString(key, value, flags, at);
  }

  /** SET key value [flags] with an absolute expiry (or none). */
  private writeString(key: Buffer, value: Buffer, flags: Buffer[], at: number | null): void {
    const tdb = this.keyTarget(key);
    if (tdb === null) return;
    if (!this.opts.filter.matchesType('string')) {
      this.stats.dropped.filtered++;
      return this.emit({ kind: 'command', db: tdb, key, argv: [b('DEL'), key] });
    }
    const set: Buffer[] = [b('SET'), key, value, ...flags];
    if (at === null || !this.opts.ttl.keep) return this.emit({ kind: 'command', db: tdb, key, argv: set });
    const when = b(String(this.expiryAt(at)));
    if (this.supports(6, 2)) return this.emit({ kind: 'command', db: tdb, key, argv: [...set, b('PXAT'), when] });
    // No PXAT before 6.2: SET then PEXPIREAT, in one transaction so the key is never seen without its TTL.
    this.emit({
      kind: 'transaction',
      db: tdb,
      key,
      ops: [
        { kind: 'command', db: tdb, key, argv: set },
        { kind: 'command', db: tdb, key, argv: [b('PEXPIREAT'), key, when] },
      ],
    });
  }

  private expire(name: string, argv: Buffer[]): void {
    const key = argv[1];
    const n = int(argv[2]);
    if (Number.isNaN(n)) return this.asIs(argv);
    const at = name === 'expire' ? this.now + n * 1000 : name === 'pexpire' ? this.now + n : name === 'expireat' ? n * 1000 : n;
    // NX/XX/GT/LT held on the source (only applied commands are propagated); a target before 7.0 refuses them.
    const flags = this.supports(7, 0) ? argv.slice(3) : [];
    this.setExpiry(key, at, flags);
  }

  /** PEXPIREAT key at (or, with ttl.keep false, nothing, or DEL when the time has already passed). */
  private setExpiry(key: Buffer, at: number, flags: Buffer[] = []): void {
    const tdb = this.keyTarget(key);
    if (tdb === null) return;
    if (!this.opts.ttl.keep) {
      if (at <= this.now) return this.emit({ kind: 'command', db: tdb, key, argv: [b('DEL'), key] });
      this.stats.dropped.ttl++;
      return;
    }
    this.emit({ kind: 'command', db: tdb, key, argv: [b('PEXPIREAT'), key, b(String(this.expiryAt(at))), ...flags] });
  }

  private getex(argv: Buffer[]): void {
    const key = argv[1];
    const opt = upper(argv[2]);
    const n = int(argv[3]);
    if (opt === 'PERSIST') return this.keyCommand(key, [b('PERSIST'), key]);
    if (opt === '') return; // a plain read
    if (Number.isNaN(n)) return this.asIs(argv);
    const at = opt === 'EX' ? this.now + n * 1000 : opt === 'PX' ? this.now + n : opt === 'EXAT' ? n * 1000 : opt === 'PXAT' ? n : NaN;
    if (Number.isNaN(at)) return this.asIs(argv);
    this.setExpiry(key, at);
  }

  private restore(argv: Buffer[]): void {
    const [, key, ttlArg, payloadArg] = argv;
    const ttl = int(ttlArg);
    if (Number.isNaN(ttl) || !payloadArg) return this.asIs(argv);
    const tdb = this.keyTarget(key);
    if (tdb === null) return;
    const type = payloadType(payloadArg);
    if (!this.opts.filter.matchesType(type)) {
      this.stats.dropped.filtered++;
      return this.emit({ kind: 'command', db: tdb, key, argv: [b('DEL'), key] });
    }
    let absolute = false;
    const rest: Buffer[] = [];
    for (let i = 4; i < argv.length; i++) {
      const opt = upper(argv[i]);
      if (opt === 'ABSTTL') absolute = true;
      else if (opt === 'IDLETIME' || opt === 'FREQ') {
        // LRU/LFU hints (5.0+): dropped for older targets, which refuse them.
        if (this.supports(5, 0)) rest.push(argv[i], argv[i + 1]);
        i++;
      } else rest.push(argv[i]);
    }
    const payload = this.opts.adaptPayload ? this.opts.adaptPayload(payloadArg) : payloadArg;
    if (!payload) {
      return this.refuse(argv, [key], `RESTORE of ${describeKey(key)}: the target cannot read this ${type} payload (a newer format); copy the key again`, [key]);
    }
    const at = ttl === 0 ? null : absolute ? ttl : this.now + ttl;
    if (at === null || !this.opts.ttl.keep) {
      if (at !== null && at <= this.now) return this.emit({ kind: 'command', db: tdb, key, argv: [b('DEL'), key] });
      return this.emit({ kind: 'command', db: tdb, key, argv: [b('RESTORE'), key, b('0'), payload, ...rest] });
    }
    if (this.supports(5, 0)) {
      return this.emit({ kind: 'command', db: tdb, key, argv: [b('RESTORE'), key, b(String(this.expiryAt(at))), payload, ...rest, b('ABSTTL')] });
    }
    // No ABSTTL before 5.0: what is left of the TTL now (the clock shift cancels out in a difference).
    const left = at + this.opts.ttl.extendMs - this.now;
    if (left <= 0) return this.emit({ kind: 'command', db: tdb, key, argv: [b('DEL'), key] });
    this.emit({ kind: 'command', db: tdb, key, argv: [b('RESTORE'), key, b(String(left)), payload, ...rest] });
  }

  /** HEXPIRE/HPEXPIRE/HEXPIREAT key t [NX|XX|GT|LT] FIELDS n f… -> HPEXPIREAT (Redis 7.4+). */
  private hashFieldExpire(name: string, argv: Buffer[]): void {
    const key = argv[1];
    const n = int(argv[2]);
    if (Number.isNaN(n)) return this.asIs(argv);
    const at = name === 'hexpire' ? this.now + n * 1000 : name === 'hpexpire' ? this.now + n : name === 'hexpireat' ? n * 1000 : n;
    const tdb = this.keyTarget(key, 'hash');
    if (tdb === null) return;
    const rest = argv.slice(3);
    if (!this.opts.ttl.keep) {
      const fieldsAt = rest.findIndex((a) => upper(a) === 'FIELDS');
      if (at <= this.now && fieldsAt >= 0) return this.emit({ kind: 'command', db: tdb, key, argv: [b('HDEL'), key, ...rest.slice(fieldsAt + 2)] });
      this.stats.dropped.ttl++;
      return;
    }
    this.emit({ kind: 'command', db: tdb, key, argv: [b('HPEXPIREAT'), key, b(String(this.expiryAt(at))), ...rest] });
  }

  /** HSETEX/HGETEX (Redis 8): the EX/PX/EXAT option before FIELDS becomes PXAT (or goes, with ttl.keep false). */
  private hashExpiryOption(name: string, argv: Buffer[]): void {
    const key = argv[1];
    const tdb = this.keyTarget(key, 'hash');
    if (tdb === null) return;
    const out: Buffer[] = [argv[0], key];
    let i = 2;
    let hadExpiry = false;
    for (; i < argv.length && upper(argv[i]) !== 'FIELDS'; i++) {
      const opt = upper(argv[i]);
      if (opt === 'EX' || opt === 'PX' || opt === 'EXAT' || opt === 'PXAT') {
        const n = int(argv[++i]);
        if (Number.isNaN(n)) return this.asIs(argv);
        const at = opt === 'EX' ? this.now + n * 1000 : opt === 'PX' ? this.now + n : opt === 'EXAT' ? n * 1000 : n;
        hadExpiry = true;
        if (this.opts.ttl.keep) out.push(b('PXAT'), b(String(this.expiryAt(at))));
      } else if (opt === 'PERSIST' && !this.opts.ttl.keep) hadExpiry = true;
      else out.push(argv[i]);
    }
    // HGETEX without an expiry option is a read.
    if (name === 'hgetex' && !this.opts.ttl.keep && hadExpiry) {
      this.stats.dropped.ttl++;
      return;
    }
    this.emit({ kind: 'command', db: tdb, key, argv: [...out, ...argv.slice(i)] });
  }

  // ---- multi-key commands -------------------------------------------------

  /** DEL/UNLINK (stride 1) and MSET/MSETNX (stride 2): the keys the filters keep, one command per slot. */
  private perKey(argv: Buffer[], stride: 1 | 2): void {
    const tdb = this.targetDb();
    if (tdb === null) return;
    const name = upper(argv[0]);
    const isSet = stride === 2;
    const items: Buffer[][] = [];
    for (let i = 1; i + stride - 1 < argv.length; i += stride) items.push(argv.slice(i, i + stride));
    const kept = items.filter(([key]) => this.opts.filter.matchesKey(key));
    this.stats.dropped.filtered += items.length - kept.length;
    if (kept.length === 0) return;
    if (isSet && !this.opts.filter.matchesType('string')) {
      this.stats.dropped.filtered += kept.length;
      this.perSlot(tdb, kept.map(([k]) => [k]), 'DEL');
      return;
    }
    // MSETNX was propagated, so it set every key: MSET of a part of them is exact.
    const command = isSet && kept.length < items.length ? 'MSET' : name;
    const groups = this.perSlot(tdb, kept, command);
    if (groups > 1) this.note('split', 'info', argv, kept.map(([k]) => k), `${name} across ${groups} slots of the cluster target: sent as one ${command} per slot`);
  }

  /** One `command` per slot (one in all on a standalone target) over `items` ([key] or [key, value]); returns how many. */
  private perSlot(tdb: number, items: Buffer[][], command: string): number {
    const bySlot = new Map<number, Buffer[][]>();
    for (const item of items) {
      const slot = this.opts.target.cluster ? keySlot(item[0]) : 0;
      let group = bySlot.get(slot);
      if (!group) bySlot.set(slot, (group = []));
      group.push(item);
    }
    for (const group of bySlot.values()) this.emit({ kind: 'command', db: tdb, key: group[0][0], argv: [b(command), ...group.flat()] });
    return bySlot.size;
  }

  private rename(argv: Buffer[]): void {
    const [, src, dst] = argv;
    const tdb = this.targetDb();
    if (tdb === null || !src || !dst) return;
    const name = upper(argv[0]);
    const [inSrc, inDst] = [this.opts.filter.matchesKey(src), this.opts.filter.matchesKey(dst)];
    if (!inSrc && !inDst) {
      this.stats.dropped.filtered++;
      return;
    }
    if (inSrc && !inDst) {
      this.emit({ kind: 'command', db: tdb, key: src, argv: [b('DEL'), src] });
      return this.note('reported', 'info', argv, [src, dst], `${name} ${describeKey(src)} to ${describeKey(dst)}, which the filters leave out: ${describeKey(src)} is deleted on the target and the new key is not copied`);
    }
    if (!inSrc && inDst) {
      this.emit({ kind: 'command', db: tdb, key: dst, argv: [b('DEL'), dst] });
      return this.note('reported', 'warning', argv, [src, dst], `${name} ${describeKey(src)}, which the filters leave out, to ${describeKey(dst)}: its new value is not on the target, so ${describeKey(dst)} is deleted there; copy it again`, [dst]);
    }
    if (!this.opts.target.cluster || keySlot(src) === keySlot(dst)) return this.emit({ kind: 'command', db: tdb, key: src, argv });
    this.emit({ kind: 'copy', fromDb: tdb, from: src, toDb: tdb, to: dst, deleteSource: true });
    this.note('split', 'info', argv, [src, dst], `${name} across slots of the cluster target: the value is copied (DUMP, RESTORE … REPLACE with its TTL) and ${describeKey(src)} deleted`);
  }

  private copy(argv: Buffer[]): void {
    const [, src, dst] = argv;
    if (!src || !dst) return this.asIs(argv);
    let destDb = this.sourceDb;
    let replace = false;
    for (let i = 3; i < argv.length; i++) {
      const opt = upper(argv[i]);
      if (opt === 'DB') destDb = int(argv[++i]);
      else if (opt === 'REPLACE') replace = true;
    }
    const [fromDb, toDb] = [this.opts.targetDbOf(this.sourceDb), this.opts.targetDbOf(destDb)];
    const inSrc = fromDb !== null && this.opts.filter.matchesKey(src);
    const inDst = toDb !== null && this.opts.filter.matchesKey(dst);
    if (!inDst) {
      // The copied key set does not change (the source key is only read).
      if (toDb === null) this.stats.dropped.unmappedDb++;
      else this.stats.dropped.filtered++;
      return;
    }
    if (!inSrc) {
      if (replace) this.emit({ kind: 'command', db: toDb, key: dst, argv: [b('DEL'), dst] });
      return this.note('reported', 'warning', argv, [src, dst], `COPY from ${describeKey(src)}, which is not copied, to ${describeKey(dst)}: its value is not on the target; copy ${describeKey(dst)} again`, [{ db: destDb, key: dst }]);
    }
    if (fromDb === toDb && sameKey(src, dst)) {
      return this.note('reported', 'info', argv, [src], `COPY of ${describeKey(src)} between source dbs ${this.sourceDb} and ${destDb}, which both go to target db ${toDb}: the key is already there`);
    }
    const sameNode = !this.opts.target.cluster || keySlot(src) === keySlot(dst);
    if (fromDb === toDb && sameNode) {
      return this.emit({ kind: 'command', db: fromDb!, key: src, argv: [b('COPY'), src, dst, ...(replace ? [b('REPLACE')] : [])] });
    }
    if (!this.opts.target.cluster) {
      return this.emit({ kind: 'command', db: fromDb!, key: src, argv: [b('COPY'), src, dst, b('DB'), b(String(toDb)), ...(replace ? [b('REPLACE')] : [])] });
    }
    this.emit({ kind: 'copy', fromDb: fromDb!, from: src, toDb, to: dst, deleteSource: false });
    this.note('split', 'info', argv, [src, dst], `COPY across slots of the cluster target: the value is copied with DUMP and RESTORE … REPLACE`);
  }

  private move(argv: Buffer[]): void {
    const key = argv[1];
    const destDb = int(argv[2]);
    if (!key || Number.isNaN(destDb)) return this.asIs(argv);
    const [fromDb, toDb] = [this.opts.targetDbOf(this.sourceDb), this.opts.targetDbOf(destDb)];
    if (!this.opts.filter.matchesKey(key)) {
      this.stats.dropped.filtered++;
      return;
    }
    if (fromDb === null && toDb === null) {
      this.stats.dropped.unmappedDb++;
      return;
    }
    if (toDb === null) {
      this.emit({ kind: 'command', db: fromDb!, key, argv: [b('DEL'), key] });
      return this.note('reported', 'info', argv, [key], `MOVE of ${describeKey(key)} to source db ${destDb}, which is not copied: deleted on the target`);
    }
    if (fromDb === null) {
      return this.note('reported', 'warning', argv, [key], `MOVE of ${describeKey(key)} from source db ${this.sourceDb}, which is not copied, into db ${destDb}: its value is not on the target; copy it again`, [{ db: destDb, key }]);
    }
    if (fromDb === toDb) {
      return this.note('reported', 'info', argv, [key], `MOVE of ${describeKey(key)} between source dbs ${this.sourceDb} and ${destDb}, which both go to target db ${toDb}: the key stays where it is`);
    }
    this.emit({ kind: 'command', db: fromDb, key, argv: [b('MOVE'), key, b(String(toDb))] });
  }

  private smove(argv: Buffer[]): void {
    const [, src, dst, member] = argv;
    const tdb = this.targetDb();
    if (tdb === null || !member) return;
    const inSrc = this.opts.filter.matchesKey(src);
    const inDst = this.opts.filter.matchesKey(dst);
    if ((!inSrc && !inDst) || !this.opts.filter.matchesType('set')) {
      this.stats.dropped.filtered++;
      return;
    }
    const srem: CommandOp = { kind: 'command', db: tdb, key: src, argv: [b('SREM'), src, member] };
    const sadd: CommandOp = { kind: 'command', db: tdb, key: dst, argv: [b('SADD'), dst, member] };
    // Propagated means the member moved: SREM and SADD are exactly its two halves.
    if (inSrc && !inDst) {
      this.emit(srem);
      return this.note('reported', 'info', argv, [src, dst], `SMOVE to ${describeKey(dst)}, which the filters leave out: the member is only removed from ${describeKey(src)}`);
    }
    if (!inSrc) {
      this.emit(sadd);
      return this.note('reported', 'info', argv, [src, dst], `SMOVE from ${describeKey(src)}, which the filters leave out: the member is only added to ${describeKey(dst)}`);
    }
    if (!this.opts.target.cluster || keySlot(src) === keySlot(dst)) return this.emit({ kind: 'command', db: tdb, key: src, argv });
    this.emit(srem);
    this.emit(sadd);
    this.note('split', 'info', argv, [src, dst], `SMOVE across slots of the cluster target: sent as SREM and SADD`);
  }

  private listMove(name: string, argv: Buffer[]): void {
    const [, src, dst] = argv;
    const tdb = this.targetDb();
    if (tdb === null || !dst) return;
    const [from, to] = name === 'rpoplpush' || name === 'brpoplpush' ? ['RIGHT', 'LEFT'] : [upper(argv[3]), upper(argv[4])];
    const pop = from === 'LEFT' ? 'LPOP' : 'RPOP';
    const push = to === 'LEFT' ? 'LPUSH' : 'RPUSH';
    const inSrc = this.opts.filter.matchesKey(src);
    const inDst = this.opts.filter.matchesKey(dst);
    if ((!inSrc && !inDst) || !this.opts.filter.matchesType('list')) {
      this.stats.dropped.filtered++;
      return;
    }
    if (inSrc && !inDst) {
      this.emit({ kind: 'command', db: tdb, key: src, argv: [b(pop), src] });
      return this.note('reported', 'info', argv, [src, dst], `${upper(argv[0])} to ${describeKey(dst)}, which the filters leave out: the element is only popped from ${describeKey(src)}`);
    }
    if (!inSrc) {
      return this.note('reported', 'warning', argv, [src, dst], `${upper(argv[0])} from ${describeKey(src)}, which the filters leave out, to ${describeKey(dst)}: the element is not known here; copy ${describeKey(dst)} again`, [dst]);
    }
    // The blocking forms are applied as their plain form (Redis propagates them so already).
    const plain = [b('LMOVE'), src, dst, b(from), b(to)];
    if (!this.opts.target.cluster || keySlot(src) === keySlot(dst)) return this.emit({ kind: 'command', db: tdb, key: src, argv: plain });
    this.emit({ kind: 'popPush', db: tdb, from: src, to: dst, pop, push });
    this.note('split', 'info', argv, [src, dst], `${upper(argv[0])} across slots of the cluster target: sent as ${pop} and ${push} of the popped element`);
  }

  /**
   * Commands that write one destination from source keys (…STORE, PFMERGE, BITOP, SORT … STORE,
   * GEORADIUS … STORE). Across slots of a cluster target, the source keys are copied into temp keys
   * in the destination's slot, the command runs there, and the temp keys are removed: exact, since
   * the target holds what the source held at this point of the stream.
   */
  private store(name: string, argv: Buffer[]): void {
    const where = storeKeys(name, argv);
    if (!where) {
      // SORT / GEORADIUS without STORE only read; anything else malformed is passed on.
      if (name === 'sort' || name === 'georadius' || name === 'georadiusbymember') return;
      return this.asIs(argv);
    }
    const { dst: dstAt, sources: sourceAt } = where;
    const dst = argv[dstAt];
    const sources = sourceAt.map((i) => argv[i]);
    const tdb = this.targetDb();
    if (tdb === null) return;
    const upperName = upper(argv[0]);
    const spec = WRITE_COMMANDS.get(name);
    const type: KeyType = name === 'sort' ? 'list' : (spec?.type ?? 'string');
    if (!this.opts.filter.matchesKey(dst)) {
      this.stats.dropped.filtered++;
      return;
    }
    if (!this.opts.filter.matchesType(type)) {
      this.stats.dropped.filtered++;
      return this.emit({ kind: 'command', db: tdb, key: dst, argv: [b('DEL'), dst] });
    }
    const left = sources.filter((k) => !this.opts.filter.matchesKey(k));
    if (left.length) {
      this.emit({ kind: 'command', db: tdb, key: dst, argv: [b('DEL'), dst] });
      return this.note('reported', 'warning', argv, [dst, ...sources], `${upperName} into ${describeKey(dst)} reads ${describeKeys(left)}, which the filters leave out: ${describeKey(dst)} is deleted on the target; copy it again`, [dst]);
    }
    if (name === 'sort' && sortReadsOtherKeys(argv) && this.opts.target.cluster) {
      return this.refuse(argv, [dst, ...sources], `SORT … STORE into ${describeKey(dst)} reads keys named by BY/GET patterns, which a cluster target cannot do: not applied; copy ${describeKey(dst)} again`, [dst]);
    }
    const dstSlot = keySlot(dst);
    if (!this.opts.target.cluster || sources.every((k) => keySlot(k) === dstSlot)) return this.emit({ kind: 'command', db: tdb, key: dst, argv });
    const temps = new Map<string, Buffer>();
    const out = argv.slice();
    for (const i of sourceAt) {
      const key = argv[i];
      if (keySlot(key) === dstSlot) continue;
      const id = key.toString('latin1');
      let temp = temps.get(id);
      if (!temp) {
        temp = sameSlotName(dst, `${TEMP_TAG}${temps.size}:`);
        temps.set(id, temp);
        this.emit({ kind: 'copy', fromDb: tdb, from: key, toDb: tdb, to: temp, deleteSource: false });
      }
      out[i] = temp;
    }
    this.emit({ kind: 'command', db: tdb, key: dst, argv: out });
    this.emit({ kind: 'command', db: tdb, key: dst, argv: [b('UNLINK'), ...temps.values()] });
    this.note('split', 'info', argv, [dst, ...sources], `${upperName} across slots of the cluster target: ${describeKeys([...temps.keys()].map((k) => Buffer.from(k, 'latin1')))} copied next to ${describeKey(dst)} (temp keys in its slot), the command run there, the temp keys removed`);
  }

  // ---- scripts, flushes and other server-wide commands ----------------------

  /** EVAL/EVALSHA/FCALL as themselves (Redis ≤ 4, or scripts that replicate verbatim): run on the target. */
  private scriptRun(argv: Buffer[]): void {
    const keys = this.declaredKeys(upper(argv[0]).toLowerCase(), argv);
    const tdb = this.targetDb();
    if (tdb === null) return;
    const name = upper(argv[0]);
    if (!keys.every((k) => this.opts.filter.matchesKey(k))) {
      return this.refuse(argv, keys, `${name} (a script replicated as itself) touches keys the filters leave out: not run on the target; copy its keys again`, keys.filter((k) => this.opts.filter.matchesKey(k)));
    }
    if (this.opts.target.cluster && (keys.length === 0 || !sameSlot(keys))) {
      return this.refuse(argv, keys, `${name} (a script replicated as itself) ${keys.length ? 'spans several slots' : 'declares no keys'}: a cluster target cannot run it; not applied, copy its keys again`, keys);
    }
    this.emit({ kind: 'command', db: tdb, key: keys[0] ?? null, argv });
    this.note('reported', 'info', argv, keys, `${name} arrived as a script (the source replicates scripts verbatim, Redis ≤ 4): it runs on the target as is`);
  }

  private declaredKeys(name: string, argv: Buffer[]): Buffer[] {
    if (name === 'eval' || name === 'evalsha' || name === 'fcall') {
      const n = int(argv[2]);
      return n > 0 ? argv.slice(3, 3 + n) : [];
    }
    if (name === 'lmpop' || name === 'zmpop') return argv.slice(2, 2 + Math.max(0, int(argv[1]) || 0));
    if (name === 'blmpop' || name === 'bzmpop') return argv.slice(3, 3 + Math.max(0, int(argv[2]) || 0));
    if (name === 'xreadgroup') {
      const at = argv.findIndex((a) => upper(a) === 'STREAMS');
      return at < 0 ? [] : argv.slice(at + 1, at + 1 + Math.floor((argv.length - at - 1) / 2));
    }
    const spec = WRITE_COMMANDS.get(name);
    return spec ? keyIndexes(spec, argv.length).map((i) => argv[i]) : [];
  }

  private script(argv: Buffer[]): void {
    const sub = upper(argv[1]);
    // Redis ≤ 4 propagates SCRIPT LOAD so its replicas can run EVALSHA: every master needs it.
    if (sub === 'LOAD') return this.emit({ kind: 'command', db: this.targetDb() ?? 0, key: null, argv });
    // SCRIPT FLUSH would empty the target's script cache under its own clients: not needed (the
    // source sends EVAL, not EVALSHA, for scripts its replicas may lack after a flush).
    this.stats.dropped.refused++;
  }

  private functionCommand(argv: Buffer[]): void {
    const sub = upper(argv[1]);
    if (sub === 'FLUSH' && this.opts.sourcesWriting > 1) {
      return this.refuse(argv, [], `FUNCTION FLUSH is not forwarded: ${this.opts.sourcesWriting} sources write into the target, and it would delete the others' functions too`);
    }
    if (sub === 'LOAD' || sub === 'DELETE' || sub === 'RESTORE' || sub === 'FLUSH') {
      this.emit({ kind: 'command', db: this.targetDb() ?? 0, key: null, argv });
      return this.note('reported', 'info', argv, [], `FUNCTION ${sub} is applied on the target (on every master of a cluster)`);
    }
    this.stats.dropped.refused++;
  }

  /**
   * Why a flush of source db `db` must not reach the target, or null when it may: only when this
   * source is the only one writing into the target, the filters select every key, and no other
   * source db goes to the same target db. Otherwise it would delete keys that are not this db's.
   */
  flushBlocker(db: number): string | null {
    const tdb = this.opts.targetDbOf(db);
    if (tdb === null) return `source db ${db} is not copied`;
    if (this.opts.sourcesWriting > 1) return `${this.opts.sourcesWriting} sources write into the target (a merge): it would delete the other sources' keys in target db ${tdb} too`;
    if (!this.opts.filter.selectsAllKeys || !KEY_TYPES.every((t) => this.opts.filter.matchesType(t))) return `the job's filters copy only some keys: it would delete keys the job does not own in target db ${tdb}`;
    for (let other = 0; other < Math.max(this.opts.sourceDbCount, db + 1); other++) {
      if (other !== db && this.opts.targetDbOf(other) === tdb) return `source db ${other} also goes to target db ${tdb}: it would delete that db's keys too`;
    }
    return null;
  }

  private flushdb(argv: Buffer[]): void {
    this.flushDbs(argv, [this.sourceDb]);
  }

  private flushall(argv: Buffer[]): void {
    const dbs = Array.from({ length: this.opts.sourceDbCount }, (_, i) => i);
    this.flushDbs(argv, dbs);
  }

  /** FLUSHDB on each target db the rule allows; a refused note for each source db it does not. */
  private flushDbs(argv: Buffer[], sourceDbs: number[]): void {
    const name = upper(argv[0]);
    const mode = argv.slice(1); // ASYNC | SYNC
    const flushed = new Set<number>();
    for (const db of sourceDbs) {
      const tdb = this.opts.targetDbOf(db);
      if (tdb === null) continue; // that db is not copied: nothing of it on the target
      const blocker = this.flushBlocker(db);
      if (blocker) {
        this.stats.dropped.refused++;
        this.out.notes.push({
          kind: 'refused',
          level: 'warning',
          command: name,
          db,
          keys: [],
          message: `${name} of source db ${db} is not forwarded: ${blocker}. The keys it deleted stay in target db ${tdb} (verify lists them; delete them there if that is intended)`,
        });
        continue;
      }
      if (flushed.has(tdb)) continue;
      flushed.add(tdb);
      this.emit({ kind: 'command', db: tdb, key: null, argv: [b('FLUSHDB'), ...mode] });
      this.out.notes.push({ kind: 'reported', level: 'info', command: name, db, keys: [], message: `${name} of source db ${db} is forwarded as FLUSHDB of target db ${tdb}: this source is its only writer` });
      this.stats.reported++;
    }
  }

  // ---- transactions -----------------------------------------------------------

  /**
   * The ops queued between MULTI and EXEC, as transactions the target can run: one per target db,
   * and per slot on a cluster (a cluster runs a MULTI only within one slot). Ops that are not plain
   * key commands (copies, keyless commands) run between them, in order.
   */
  private closeTransaction(queued: TargetOp[]): TargetOp[] {
    const flat = queued.flatMap((op) => (op.kind === 'transaction' ? op.ops : [op]));
    if (flat.length <= 1) return flat;
    const out: TargetOp[] = [];
    let segment: CommandOp[] = [];
    const cut = () => {
      const groups = new Map<string, CommandOp[]>();
      for (const op of segment) {
        const id = `${op.db}:${this.opts.target.cluster ? keySlot(op.key!) : 0}`;
        let group = groups.get(id);
        if (!group) groups.set(id, (group = []));
        group.push(op);
      }
      for (const group of groups.values()) out.push(group.length === 1 ? group[0] : { kind: 'transaction', db: group[0].db, key: group[0].key!, ops: group });
      segment = [];
    };
    for (const op of flat) {
      if (op.kind === 'command' && op.key) segment.push(op);
      else {
        cut();
        out.push(op);
      }
    }
    cut();
    if (out.length > 1) {
      const keys = flat.flatMap((op) => (op.kind === 'command' ? (op.key ? [op.key] : []) : op.kind === 'copy' || op.kind === 'popPush' ? [op.from, op.to] : []));
      this.out.notes.push({
        kind: 'split',
        level: 'warning',
        command: 'EXEC',
        db: this.sourceDb,
        keys: uniqueKeys(keys),
        message: `a MULTI/EXEC transaction spans ${this.opts.target.cluster ? 'several slots or dbs of the cluster target' : 'several target dbs'} (or holds commands that run on their own): sent as ${out.length} parts, each atomic on its own`,
      });
      this.stats.split++;
    }
    return out;
  }

  // ---- helpers ----------------------------------------------------------------

  private emit(op: TargetOp): void {
    (this.txn ?? this.out.ops).push(op);
  }

  /** The target db of the current source db; counts the drop when it is not copied. */
  private targetDb(): number | null {
    const tdb = this.opts.targetDbOf(this.sourceDb);
    if (tdb === null) this.stats.dropped.unmappedDb++;
    return tdb;
  }

  /** The target db for a command on `key`, or null (counted) when the db or the filters leave it out. */
  private keyTarget(key: Buffer | undefined, type?: KeyType): number | null {
    const tdb = this.targetDb();
    if (tdb === null || !key) return null;
    if (!this.opts.filter.matchesKey(key) || (type && !this.opts.filter.matchesType(type))) {
      this.stats.dropped.filtered++;
      return null;
    }
    return tdb;
  }

  /** A command on one key, type-free (DEL, PERSIST…). */
  private keyCommand(key: Buffer | undefined, argv: Buffer[]): void {
    const tdb = this.keyTarget(key);
    if (tdb !== null) this.emit({ kind: 'command', db: tdb, key: key!, argv });
  }

  /** A command whose arguments this translator does not understand: passed on as is, like Redis would replay it. */
  private asIs(argv: Buffer[]): void {
    const name = argv[0].toString('latin1').toLowerCase();
    const spec = WRITE_COMMANDS.get(name);
    const key = spec ? argv[keyIndexes(spec, argv.length)[0] ?? -1] : undefined;
    if (!key) return this.refuse(argv, [], `${printable(argv[0])} with arguments that could not be read: not applied`);
    const tdb = this.keyTarget(key);
    if (tdb === null) return;
    this.emit({ kind: 'command', db: tdb, key, argv });
    this.note('reported', 'warning', argv, [key], `${printable(argv[0])} on ${describeKey(key)} has arguments Ferry does not read: passed on unchanged`);
  }

  private refuse(argv: Buffer[], keys: Buffer[], message: string, resync: Buffer[] = []): void {
    this.stats.dropped.refused++;
    this.out.notes.push({
      kind: 'refused',
      level: 'warning',
      command: printable(argv[0]),
      db: this.sourceDb,
      keys,
      message,
      ...(resync.length ? { resync: resync.map((key) => ({ db: this.sourceDb, key })) } : {}),
    });
  }

  private note(kind: 'split' | 'reported', level: 'info' | 'warning', argv: Buffer[], keys: Buffer[], message: string, resync: Array<Buffer | { db: number; key: Buffer }> = []): void {
    if (kind === 'split') this.stats.split++;
    else this.stats.reported++;
    const entries = resync.map((r) => (Buffer.isBuffer(r) ? { db: this.sourceDb, key: r } : r));
    this.out.notes.push({ kind, level, command: printable(argv[0]), db: this.sourceDb, keys, message, ...(entries.length ? { resync: entries } : {}) });
  }
}

/** Destination and source key positions of a store-like command, or null when it stores nothing. */
function storeKeys(name: string, argv: Buffer[]): { dst: number; sources: number[] } | null {
  const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);
  switch (name) {
    case 'sunionstore':
    case 'sinterstore':
    case 'sdiffstore':
      return argv.length > 2 ? { dst: 1, sources: range(2, argv.length) } : null;
    case 'pfmerge':
      return argv.length > 1 ? { dst: 1, sources: range(2, argv.length) } : null;
    case 'bitop':
      return argv.length > 3 ? { dst: 2, sources: range(3, argv.length) } : null;
    case 'zunionstore':
    case 'zinterstore':
    case 'zdiffstore': {
      const n = int(argv[2]);
      return n > 0 && argv.length >= 3 + n ? { dst: 1, sources: range(3, 3 + n) } : null;
    }
    case 'zrangestore':
    case 'geosearchstore':
      return argv.length > 2 ? { dst: 1, sources: [2] } : null;
    case 'sort':
    case 'georadius':
    case 'georadiusbymember': {
      // The last STORE/STOREDIST wins, as in Redis.
      let dst = -1;
      for (let i = 2; i < argv.length - 1; i++) {
        const opt = upper(argv[i]);
        if (opt === 'STORE' || (name !== 'sort' && opt === 'STOREDIST')) dst = ++i;
      }
      return dst > 0 ? { dst, sources: [1] } : null;
    }
  }
  return null;
}

/** SORT … BY pattern / GET pattern read other keys (BY nosort and GET # do not). */
function sortReadsOtherKeys(argv: Buffer[]): boolean {
  for (let i = 2; i < argv.length - 1; i++) {
    const opt = upper(argv[i]);
    if (opt === 'BY' && upper(argv[i + 1]) !== 'NOSORT' && argv[i + 1].includes('*')) return true;
    if (opt === 'GET' && argv[i + 1].toString('latin1') !== '#') return true;
  }
  return false;
}

function sameSlot(keys: Buffer[]): boolean {
  const slot = keys.length ? keySlot(keys[0]) : 0;
  return keys.every((k) => keySlot(k) === slot);
}

function uniqueKeys(keys: Buffer[]): Buffer[] {
  const seen = new Map<string, Buffer>();
  for (const k of keys) seen.set(k.toString('latin1'), k);
  return [...seen.values()];
}

function describeKeys(keys: Buffer[]): string {
  const shown = keys.slice(0, 3).map(describeKey).join(', ');
  return keys.length > 3 ? `${shown} and ${keys.length - 3} more` : shown;
}

/** A command name for a message (it may be any bytes). */
function printable(name: Buffer | undefined): string {
  if (!name) return '';
  const text = name.toString('latin1');
  return /^[\x21-\x7e]{1,40}$/.test(text) ? text.toUpperCase() : `0x${name.subarray(0, 20).toString('hex')}`;
}
