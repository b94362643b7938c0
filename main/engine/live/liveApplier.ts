import type { Endpoint } from '../endpoints/endpoint.js';
import { keySlot, SLOTS } from '../keys/hashSlot.js';
import type { RedisConnection } from '../resp/connection.js';
import { CONNECTION_LOST, ReplyError, type Reply } from '../resp/reply.js';
import { keyText } from '../run/describeKey.js';
import type { CommandOp, CopyOp, PopPushOp, TargetOp, Translation, TransactionOp } from './commandTranslator.js';

/** Why the target can take no more: the stream must stop (and resume later from the acknowledged offset). */
export type LiveFatalCode = 'OOM' | 'READONLY' | 'MISCONF' | 'LOADING' | 'MASTERDOWN' | 'CLUSTERDOWN' | 'NOPERM' | 'NOAUTH' | 'CONNECTION_LOST' | 'TARGET';

export class LiveApplyError extends Error {
  constructor(
    readonly code: LiveFatalCode,
    message: string,
    /** Every effect of the stream up to here is on the target: resume from it. */
    readonly appliedOffset: number,
  ) {
    super(message);
    this.name = 'LiveApplyError';
  }
}

/** A command the target refused (WRONGTYPE, a syntax an older target lacks…). Names, never values. */
export interface CommandFailure {
  command: string;
  db: number;
  /** The key as people read it (keyText), or null for a keyless command. */
  key: string | null;
  code: string;
  message: string;
}

export interface ApplierStats {
  /** Operations settled (a transaction or a copy is one). */
  ops: number;
  /** Commands sent to the target. */
  commands: number;
  /** Commands the target refused; the stream went on. */
  errors: number;
  /** XADD of an ID the target's stream already holds: already applied (an overlap with the bulk copy). */
  alreadyApplied: number;
  /** RENAME/COPY/LMOVE of a key the target does not hold (left out by the type filter, or never copied). */
  missing: number;
  /** Refusals by `COMMAND CODE`, e.g. `SADD WRONGTYPE`. */
  errorsByCommand: Record<string, number>;
}

export interface LiveApplierOptions {
  target: Endpoint;
  /** Operations sent or queued and not settled yet, at most (back-pressure). Default 1000. */
  maxInFlight?: number;
  /** The offset the target already holds when the stream starts. */
  startOffset?: number;
  onCommandError?(failure: CommandFailure): void;
}

/** Writes whose second application changes the value again (an absolute SET, HSET, PEXPIREAT… does not). */
const NOT_REPEATABLE = new Set([
  'APPEND', 'INCR', 'INCRBY', 'INCRBYFLOAT', 'DECR', 'DECRBY', 'HINCRBY', 'HINCRBYFLOAT', 'ZINCRBY',
  'LPUSH', 'RPUSH', 'LPUSHX', 'RPUSHX', 'LINSERT', 'LPOP', 'RPOP', 'LREM', 'LMOVE', 'RPOPLPUSH', 'SPOP',
  'BITFIELD', 'XCLAIM', 'XAUTOCLAIM',
]);

/** Replies after which no later write can succeed either. */
const FATAL_CODES = new Set(['OOM', 'READONLY', 'MISCONF', 'LOADING', 'MASTERDOWN', 'CLUSTERDOWN', 'NOPERM', 'NOAUTH']);
/** XADD of an ID at or below the stream's last one: the entry is there already. */
const XADD_DONE = /equal or smaller than the target stream top item/i;
const RECENT_ERRORS = 100;

/** Where one stream command's effects stand: its ops not settled yet. */
interface OffsetMark {
  offset: number;
  pending: number;
  /** False inside an open MULTI (its effects come with EXEC) and after resetTo. */
  ackable: boolean;
  /** One of its ops met a fatal reply: the offset never moves past it. */
  broken?: boolean;
}

interface Item {
  op: TargetOp;
  mark: OffsetMark;
}

/**
 * Applies the translator's operations to the target in stream order: pipelined, commands about one
 * key always on that key's connection (so they keep their order), MULTI…EXEC groups on one node
 * connection. Tracks the highest replication offset whose effects the target has all acknowledged,
 * for REPLCONF ACK and checkpoints. A refused command is recorded and the stream goes on; a fatal
 * reply (OOM, READONLY, lost connection…) stops it with a LiveApplyError.
 */
export class LiveApplier {
  private readonly queue: Item[] = [];
  private head = 0;
  private readonly marks: OffsetMark[] = [];
  private markHead = 0;
  /** Ops sent and not settled. */
  private sent = 0;
  /** A copy or pop/push waits for a reply before later ops may go (they could touch its destination). */
  private blocked = false;
  private acked: number;
  private failure: LiveApplyError | null = null;
  private roomWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private drainWaiters: Array<{ resolve(): void; reject(err: Error): void }> = [];
  private readonly openDbs = new Set<number>();
  /** Cluster: the connection of each slot's master, for MULTI…EXEC (which must not be redirected command by command). */
  private slotConns: Array<RedisConnection | undefined> | null = null;
  private masterConns: RedisConnection[] = [];
  private readonly max: number;
  readonly stats: ApplierStats = { ops: 0, commands: 0, errors: 0, alreadyApplied: 0, missing: 0, errorsByCommand: {} };
  /** The latest refusals (at most 100). */
  readonly recentErrors: CommandFailure[] = [];
  /** Ops sent and not settled: after a lost connection, their effects on the target are unknown. */
  private readonly unsettled = new Set<Item>();

  constructor(private readonly opts: LiveApplierOptions) {
    this.max = Math.max(1, opts.maxInFlight ?? 1000);
    this.acked = opts.startOffset ?? 0;
  }

  /** The highest offset whose effects (and all before it) the target has acknowledged. */
  get appliedOffset(): number {
    return this.acked;
  }

  /** Set once the target can take no more. */
  get fatal(): LiveApplyError | null {
    return this.failure;
  }

  /**
   * Target keys a sent, unsettled op may have changed with a write that is not safe to repeat
   * (RPUSH, INCR, APPEND…): after a lost connection the stream is applied again from the
   * acknowledged offset, so these may now hold such a write twice.
   */
  uncertainKeys(): Array<{ db: number; key: Buffer; command: string }> {
    const out: Array<{ db: number; key: Buffer; command: string }> = [];
    const note = (c: CommandOp) => {
      const name = c.argv[0]?.toString('latin1').toUpperCase() ?? '';
      if (c.key && NOT_REPEATABLE.has(name)) out.push({ db: c.db, key: c.key, command: name });
    };
    for (const { op } of this.unsettled) {
      if (op.kind === 'command') note(op);
      else if (op.kind === 'transaction') op.ops.forEach(note);
      else if (op.kind === 'popPush') out.push({ db: op.db, key: op.from, command: op.pop }, { db: op.db, key: op.to, command: op.push });
    }
    return out;
  }

  /** Operations queued or sent and not settled yet. */
  get inFlight(): number {
    return this.sent + this.queue.length - this.head;
  }

  /**
   * Takes the operations of one stream command that ends at `offset`. Resolves when there is room
   * for more (at most `maxInFlight` unsettled); rejects with the LiveApplyError once one happened.
   */
  push(offset: number, translation: Pick<Translation, 'ops' | 'pending'>): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    const mark: OffsetMark = { offset, pending: translation.ops.length, ackable: !translation.pending };
    this.marks.push(mark);
    for (const op of translation.ops) this.queue.push({ op, mark });
    if (mark.pending === 0) this.advance();
    this.pump();
    if (this.inFlight < this.max) return Promise.resolve();
    return new Promise((resolve, reject) => this.roomWaiters.push({ resolve, reject }));
  }

  /** A new stream starts at `offset` (a new link): what is still in flight no longer moves the offset. */
  resetTo(offset: number): void {
    for (let i = this.markHead; i < this.marks.length; i++) this.marks[i].ackable = false;
    this.acked = offset;
  }

  /** Resolves when everything pushed is settled; rejects with the LiveApplyError if one happened. */
  drain(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    if (this.idle) return Promise.resolve();
    return new Promise((resolve, reject) => this.drainWaiters.push({ resolve, reject }));
  }

  private get idle(): boolean {
    return this.sent === 0 && this.head === this.queue.length && this.markHead === this.marks.length;
  }

  // ---- dispatch -------------------------------------------------------------

  private pump(): void {
    while (!this.blocked && !this.failure && this.head < this.queue.length && this.sent < this.max) {
      const item = this.queue[this.head];
      const setup = this.setupFor(item.op);
      if (setup) {
        // Opening a db connection or learning the cluster's masters: later ops wait, in order.
        this.blocked = true;
        setup.then(
          () => {
            this.blocked = false;
            this.pump();
          },
          (err: Error) => this.fail('TARGET', err.message),
        );
        return;
      }
      this.head++;
      this.sent++;
      this.dispatch(item);
    }
    if (this.head > 4096 && this.head * 2 > this.queue.length) {
      this.queue.splice(0, this.head);
      this.head = 0;
    }
    this.wakeRoomWaiters();
  }

  /** What must be opened before `op` can be sent, or null when everything is ready. */
  private setupFor(op: TargetOp): Promise<void> | null {
    const { target } = this.opts;
    if (target.isCluster) {
      const needsNodes = op.kind === 'transaction' || (op.kind === 'command' && op.key === null);
      return needsNodes && !this.slotConns ? this.learnMasters() : null;
    }
    const dbs = op.kind === 'copy' ? [op.fromDb, op.toDb] : [op.db];
    const missing = dbs.filter((db) => !this.openDbs.has(db));
    if (missing.length === 0) return null;
    return target.useDbs(missing).then(() => missing.forEach((db) => this.openDbs.add(db)));
  }

  private async learnMasters(): Promise<void> {
    const conns: Array<RedisConnection | undefined> = new Array(SLOTS);
    const masters: RedisConnection[] = [];
    for (const node of this.opts.target.masters) {
      // The endpoint's own node connections: the same ones its key routing uses, so order holds.
      const conn = await this.opts.target.nodeConnection(node.host, node.port);
      masters.push(conn);
      for (const [from, to] of node.slots) for (let s = from; s <= to; s++) conns[s] = conn;
    }
    this.masterConns = masters;
    this.slotConns = conns;
  }

  private dispatch(item: Item): void {
    const { op } = item;
    this.unsettled.add(item);
    switch (op.kind) {
      case 'command':
        return this.sendCommand(item, op);
      case 'transaction':
        return this.sendTransaction(item, op);
      case 'copy':
        return this.sendCopy(item, op);
      case 'popPush':
        return this.sendPopPush(item, op);
    }
  }

  private sendCommand(item: Item, op: CommandOp): void {
    this.stats.commands++;
    if (op.key) {
      this.opts.target.send(op.db, op.key, op.argv, this.onCommandReply, item);
      return;
    }
    // Not about a key (FLUSHDB, SCRIPT LOAD, FUNCTION LOAD): every master of a cluster, or the db's connection.
    const conns = this.opts.target.isCluster ? this.masterConns : [this.opts.target.dbConnection(op.db)];
    let left = conns.length;
    let broken = false;
    for (const conn of conns) {
      conn.send(op.argv, (reply: Reply) => {
        broken = this.check(reply, op) || broken;
        if (--left === 0) this.settle(item, broken);
      });
    }
  }

  private readonly onCommandReply = (reply: Reply, item: Item): void => {
    this.settle(item, this.check(reply, item.op as CommandOp));
  };

  private sendTransaction(item: Item, op: TransactionOp, attempt = 0): void {
    const conn = this.opts.target.isCluster ? this.slotConns![keySlot(op.key)] : this.opts.target.dbConnection(op.db);
    if (!conn) return this.fail('CLUSTERDOWN', `${this.opts.target.label}: no node serves slot ${keySlot(op.key)}`);
    this.stats.commands += op.ops.length + 2;
    const queued: Array<ReplyError | undefined> = [];
    let broken = false;
    conn.send(['MULTI'], (reply: Reply) => {
      broken = this.fatalOnly(reply) || broken;
    });
    op.ops.forEach((command, i) =>
      conn.send(command.argv, (reply: Reply) => {
        if (reply instanceof ReplyError) queued[i] = reply;
      }),
    );
    conn.send(['EXEC'], (reply: Reply) => {
      if (Array.isArray(reply)) {
        for (const [i, r] of reply.entries()) broken = this.check(r, op.ops[i]) || broken;
        return this.settle(item, broken);
      }
      if (!(reply instanceof ReplyError)) return this.settle(item, broken);
      if (this.fatalOnly(reply)) return this.settle(item, true);
      // EXECABORT: a command was refused while queued, so none ran.
      const moved = queued.find((e) => e && (e.code === 'MOVED' || e.code === 'ASK'));
      if (moved && attempt < 2) {
        // The slot moved (resharding): learn its new master and send the transaction there.
        const where = moved.message.split(' ')[2] ?? '';
        const colon = where.lastIndexOf(':');
        const host = where.slice(0, colon) || this.opts.target.address.host;
        this.opts.target.nodeConnection(host, Number(where.slice(colon + 1))).then(
          (next) => {
            if (moved.code === 'MOVED') this.slotConns![keySlot(op.key)] = next;
            this.sendTransaction(item, op, attempt + 1);
          },
          (err: Error) => this.fail('CONNECTION_LOST', err.message),
        );
        return;
      }
      queued.forEach((err, i) => {
        if (err) broken = this.check(err, op.ops[i]) || broken;
      });
      if (!queued.some(Boolean)) broken = this.check(reply, op.ops[0]) || broken;
      this.settle(item, broken);
    });
  }

  /** DUMP + PTTL of `from`, then RESTORE … REPLACE into `to` (and DEL of `from` for a RENAME). */
  private sendCopy(item: Item, op: CopyOp): void {
    const { target } = this.opts;
    this.blocked = true;
    let parts = op.deleteSource ? 2 : 1;
    let broken = false;
    const partDone = (fatal: boolean) => {
      broken = fatal || broken;
      if (--parts === 0) this.settle(item, broken);
    };
    let payload: Reply = null;
    this.stats.commands += op.deleteSource ? 3 : 2;
    target.send(op.fromDb, op.from, ['DUMP', op.from], (reply: Reply) => {
      payload = reply;
    });
    target.send(op.fromDb, op.from, ['PTTL', op.from], (pttl: Reply) => {
      this.blocked = false;
      if (this.fatalOnly(payload) || this.fatalOnly(pttl)) return partDone(true);
      if (!Buffer.isBuffer(payload)) {
        // RENAME/COPY of a key the target lacks: on the source it existed.
        if (op.deleteSource || payload instanceof ReplyError) this.missingOrError(payload, op.from, op.fromDb, 'DUMP');
        partDone(false);
      } else {
        const ttl = typeof pttl === 'number' && pttl > 0 ? pttl : 0;
        const restore: CommandOp = { kind: 'command', db: op.toDb, key: op.to, argv: [Buffer.from('RESTORE'), op.to, Buffer.from(String(ttl)), payload, Buffer.from('REPLACE')] };
        this.stats.commands++;
        target.send(op.toDb, op.to, restore.argv, (reply: Reply) => partDone(this.check(reply, restore)));
      }
      this.pump();
    });
    if (op.deleteSource) {
      const del: CommandOp = { kind: 'command', db: op.fromDb, key: op.from, argv: [Buffer.from('DEL'), op.from] };
      target.send(op.fromDb, op.from, del.argv, (reply: Reply) => partDone(this.check(reply, del)));
    }
  }

  /** LPOP/RPOP of `from`, then LPUSH/RPUSH of that element onto `to`. */
  private sendPopPush(item: Item, op: PopPushOp): void {
    const { target } = this.opts;
    this.blocked = true;
    this.stats.commands++;
    target.send(op.db, op.from, [op.pop, op.from], (element: Reply) => {
      this.blocked = false;
      if (element instanceof ReplyError) {
        this.settle(item, this.check(element, { kind: 'command', db: op.db, key: op.from, argv: [Buffer.from(op.pop), op.from] }));
      } else if (!Buffer.isBuffer(element)) {
        this.stats.missing++;
        this.settle(item);
      } else {
        const push: CommandOp = { kind: 'command', db: op.db, key: op.to, argv: [Buffer.from(op.push), op.to, element] };
        this.stats.commands++;
        target.send(op.db, op.to, push.argv, (reply: Reply) => this.settle(item, this.check(reply, push)));
      }
      this.pump();
    });
  }

  // ---- replies ----------------------------------------------------------------

  /**
   * Looks at one command's reply: a refusal is recorded and the stream goes on; a fatal one stops
   * the applier, and true is returned so the offset never moves past that command.
   */
  private check(reply: Reply, op: CommandOp): boolean {
    if (!(reply instanceof ReplyError)) return false;
    if (this.fatalOnly(reply)) return true;
    const command = op.argv[0].toString('latin1').toUpperCase();
    if (command === 'XADD' && XADD_DONE.test(reply.message)) {
      this.stats.alreadyApplied++;
      return false;
    }
    if ((command === 'RENAME' || command === 'RENAMENX') && /no such key/i.test(reply.message)) {
      this.stats.missing++;
      return false;
    }
    this.record({ command, db: op.db, key: op.key ? keyText(op.key) : null, code: reply.code, message: reply.message.slice(0, 200) });
    return false;
  }

  private missingOrError(reply: Reply, key: Buffer, db: number, command: string): void {
    if (reply instanceof ReplyError) this.record({ command, db, key: keyText(key), code: reply.code, message: reply.message.slice(0, 200) });
    else this.stats.missing++;
  }

  /** True (and the applier stopped) when the reply says the target can take no more writes. */
  private fatalOnly(reply: Reply): boolean {
    if (!(reply instanceof ReplyError)) return false;
    if (reply.code === CONNECTION_LOST) {
      this.fail('CONNECTION_LOST', `${reply.message}; live sync resumes from offset ${this.acked} once the target is reachable again`);
      return true;
    }
    if (!FATAL_CODES.has(reply.code)) return false;
    this.fail(reply.code as LiveFatalCode, `${this.opts.target.label} refuses writes: ${reply.message.slice(0, 200)}; ${FIX[reply.code] ?? 'fix the target'}, then resume (from offset ${this.acked})`);
    return true;
  }

  private record(failure: CommandFailure): void {
    this.stats.errors++;
    const id = `${failure.command} ${failure.code}`;
    this.stats.errorsByCommand[id] = (this.stats.errorsByCommand[id] ?? 0) + 1;
    this.recentErrors.push(failure);
    if (this.recentErrors.length > RECENT_ERRORS) this.recentErrors.shift();
    this.opts.onCommandError?.(failure);
  }

  private settle(item: Item, fatal = false): void {
    this.unsettled.delete(item);
    this.sent--;
    this.stats.ops++;
    if (fatal) item.mark.broken = true;
    if (--item.mark.pending === 0) this.advance();
    this.pump();
  }

  /** Moves the acknowledged offset over every leading command whose ops are all settled. */
  private advance(): void {
    while (this.markHead < this.marks.length && this.marks[this.markHead].pending === 0 && !this.marks[this.markHead].broken) {
      const mark = this.marks[this.markHead++];
      if (mark.ackable) this.acked = mark.offset;
    }
    if (this.markHead > 4096 && this.markHead * 2 > this.marks.length) {
      this.marks.splice(0, this.markHead);
      this.markHead = 0;
    }
    if (this.idle && !this.failure) {
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      waiters.forEach((w) => w.resolve());
    }
  }

  private wakeRoomWaiters(): void {
    while (this.roomWaiters.length && this.inFlight < this.max) this.roomWaiters.shift()!.resolve();
  }

  private fail(code: LiveFatalCode, message: string): void {
    if (this.failure) return;
    this.failure = new LiveApplyError(code, message, this.acked);
    for (const w of [...this.roomWaiters, ...this.drainWaiters]) w.reject(this.failure);
    this.roomWaiters = [];
    this.drainWaiters = [];
  }
}

const FIX: Record<string, string> = {
  OOM: 'the target is out of memory (maxmemory): free memory or raise maxmemory',
  READONLY: 'the target is a read-only replica: point the job at its master',
  MISCONF: 'the target cannot save its RDB (MISCONF): fix its disk or persistence settings',
  LOADING: 'the target is loading its data set: wait until it has loaded',
  MASTERDOWN: 'the target replica lost its master: point the job at a master',
  CLUSTERDOWN: 'the target cluster is down: wait until every slot is served',
  NOPERM: "the target's ACL user may not run this command or touch this key: grant it",
  NOAUTH: 'the target needs a password: put it in the target URL',
};
