import net from 'node:net';
import tls from 'node:tls';
import type { Job } from '../../../shared/job.js';
import { explainReplyError, tlsForRealHost, type Endpoint } from '../endpoints/endpoint.js';
import { atLeast } from '../endpoints/serverFacts.js';
import { keySlot } from '../keys/hashSlot.js';
import { KeyFilter } from '../filters/keyFilter.js';
import { CommandEncoder, type Arg } from '../resp/commandEncoder.js';
import { ReplyParser } from '../resp/replyParser.js';
import { CONNECTION_LOST, ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import { KeyCopier, type KeyRef } from '../verify/repair.js';

/*
 * The live-sync FALLBACK for a source that refuses SYNC/PSYNC (ElastiCache, Memorystore, Azure…):
 * keyspace notifications tell which keys changed, and those keys are copied again. It is
 * BEST-EFFORT: a notification is fire-and-forget pub/sub, lost when the subscriber is disconnected
 * (the server cuts a subscriber whose output buffer passes `client-output-buffer-limit pubsub`,
 * a network drop, a failover), and a reconnect does not replay what happened meanwhile. Such a
 * loss is detected and reported (`lostEvents`, `lost`, onLost), never hidden; the cut-over must
 * end with a verify-and-repair pass (main/engine/verify/repair.ts), which it always does in
 * fallback mode anyway.
 *
 * Order of operations, so that nothing written during the bulk copy is lost:
 *   1. `await follower.start()`: notifications are on (CONFIG SET where allowed) and the
 *      subscription of every master is confirmed by the server. From here on every change is
 *      collected in the pending set (deduplicated by db + key bytes), nothing is copied yet.
 *   2. The caller runs the bulk copy (runMigration: the normal scan migration).
 *   3. `follower.startCopying()`: the pending set is drained (keys changed during the bulk copy
 *      are copied again, as they are now, with RESTORE … REPLACE) and every later change follows.
 *      Copying must not start earlier: the bulk copy could overwrite a newer value it read before.
 *   4. At cut-over, once the application stopped writing: `await follower.drained()`,
 *      `await follower.stop()` (restores notify-keyspace-events), then verifyAndRepair.
 * A key is taken out of the pending set before it is read, and one key is never copied twice at
 * once: a change after the read brings it back, and its copy follows the one in flight.
 */

/** The notification classes a follower needs, besides K (keyspace channel): every type, generic, expired, evicted. */
const CLASSES = 'g$lshzxe';
/** Stream events (`t`) exist from Redis 5.0. */
const STREAM_CLASS = 't';
/** Letters `A` stands for (7.x adds module events `d`). */
const ALL_CLASSES = 'g$lshzxetd';
/** Notification events that are not changes of the key. */
const NOT_A_CHANGE = new Set(['keymiss', 'new']);
const CHANNEL_PREFIX = Buffer.from('__keyspace@');
/** Keys Ferry writes to check that notifications arrive where it may not read the setting. */
const PROBE_PREFIX = 'ferry:notify-probe:';
const PROBE_PREFIX_BYTES = Buffer.from(PROBE_PREFIX);
/** Which class each probe write's event proves. */
const PROBE_EVENT_CLASS: Record<string, string> = { set: '$', expire: 'g', del: 'g', rpush: 'l', sadd: 's', hset: 'h', zadd: 'z', xadd: 't', expired: 'x' };
const PROBE_WAIT_MS = 2000;
const HEARTBEAT_MS = 5000;
const RECONNECT_MAX_MS = 10_000;

/**
 * Notifications are off (or lack classes) and Ferry may not turn them on: the message names the
 * exact setting to ask the provider for.
 */
export class NotificationsUnavailableError extends Error {
  constructor(
    message: string,
    /** `host:port` of the node. */
    readonly node: string,
    /** notify-keyspace-events as the server reported it; null when CONFIG GET is refused too. */
    readonly current: string | null,
    /** The value to set. */
    readonly setting: string,
  ) {
    super(message);
    this.name = 'NotificationsUnavailableError';
  }
}

/** Letters of a notify-keyspace-events value, with `A` spelled out. */
function flagsOf(value: string): Set<string> {
  const flags = new Set(value.replace('A', ALL_CLASSES));
  return flags;
}

/** The classes (with K) a server of this version must emit. */
function neededFlags(streams: boolean): string {
  return `K${CLASSES}${streams ? STREAM_CLASS : ''}`;
}

/** The needed letters missing from `current`. */
export function missingFlags(current: string, streams: boolean): string[] {
  const have = flagsOf(current);
  return [...neededFlags(streams)].filter((c) => !have.has(c));
}

/**
 * The value to set: the current flags plus K and A, written the way people write it ("KEA",
 * "KA", "KEAm"): A covers every class letter, the others (E, m, n) are kept.
 */
export function notifyFlagsWith(current: string): string {
  const have = flagsOf(current);
  const extra = [...have].filter((c) => c !== 'K' && c !== 'E' && !ALL_CLASSES.includes(c));
  return `K${have.has('E') ? 'E' : ''}A${extra.join('')}`;
}

/** `__keyspace@<db>__:<key>` → db and key bytes (copied: the key outlives the socket's buffer). */
export function parseKeyspaceChannel(channel: Buffer): KeyRef | null {
  if (channel.length < CHANNEL_PREFIX.length || !channel.subarray(0, CHANNEL_PREFIX.length).equals(CHANNEL_PREFIX)) return null;
  let i = CHANNEL_PREFIX.length;
  let db = 0;
  while (i < channel.length && channel[i] >= 0x30 && channel[i] <= 0x39) db = db * 10 + (channel[i++] - 0x30);
  if (i === CHANNEL_PREFIX.length || channel[i] !== 0x5f || channel[i + 1] !== 0x5f || channel[i + 2] !== 0x3a) return null;
  return { db, key: Buffer.from(channel.subarray(i + 3)) };
}

export interface KeyspaceFollowerOptions {
  sourceName: string;
  /** The source (standalone or cluster); its connections are used for CONFIG, probes and reads. */
  source: Endpoint;
  target: Endpoint;
  /** Filters, db mapping, TTL policy and big-key limits. */
  job: Job;
  /** Keys read and written per pipelined batch (default 100). */
  batchKeys?: number;
  /** Keys being copied at most at once (default 1000). */
  maxInFlight?: number;
  /** Pacing (latency guard): big-key windows shrink with its factor. */
  pace?: { factor: number };
  /** A subscription that answers no PING for twice this long is taken for lost (default 5000 ms). */
  heartbeatMs?: number;
  /** A subscription was lost: changes made until it is back are not seen (a full verify-and-repair is needed). */
  onLost?(lost: LostEvents): void;
  onKeyError?(db: number, key: Buffer, message: string): void;
  /** The target (or source) can take no more: copying stopped, `drained()` rejects. */
  onFatal?(err: Error): void;
  /** Something worth saying: notifications turned on, a setting left as someone else changed it… */
  onWarning?(message: string): void;
}

export interface LostEvents {
  /** When the subscription dropped (unix ms). */
  at: number;
  node: string;
  reason: string;
}

export interface FollowerCounters {
  /** Notifications received for selected keys (a key changed N times counts N). */
  notifications: number;
  /** Keys re-copied, of which chunked (big keys). */
  copied: number;
  chunked: number;
  /** Keys gone from the source and removed from the target. */
  deleted: number;
  /** Keys the job does not select (include/exclude, types, dbs). */
  filtered: number;
  errors: number;
  /** Keys waiting or being copied (see lagKeys). */
  pending: number;
}

/** What Ferry did to a node's notify-keyspace-events, to undo it at the end. */
interface NodeSetting {
  /** The value before Ferry changed it, or null when Ferry changed nothing. */
  before: string | null;
  /** The value Ferry set. */
  set: string | null;
}

interface NodeState {
  host: string;
  port: number;
  label: string;
  /** CONFIG GET was refused: the setting was checked by probe keys instead (and is not re-checked on reconnect). */
  configRefused: boolean;
  setting: NodeSetting;
  sub: Subscription | null;
  /** While a probe runs: the probe keys' prefix and the classes seen so far. */
  probe: { prefix: Buffer; seen: Set<string> } | null;
}

interface Pending {
  db: number;
  key: Buffer;
  /** When the first unsynced change of this key was seen. */
  since: number;
}

/**
 * Follows one source through keyspace notifications (see the module comment for the order of
 * operations): one subscription connection per master (notifications are node-local), changed
 * keys collected in a deduplicated pending set, a copier that drains it in bounded batches with
 * the re-copy routine of verify-and-repair (KeyCopier: PTTL + DUMP, RESTORE … REPLACE ABSTTL,
 * big keys chunked, vanished keys UNLINKed on the target).
 */
export class KeyspaceFollower {
  /** Whether a subscription was ever lost (changes may have been missed): verify-and-repair is mandatory. */
  lostEvents = false;
  /** The first loss. */
  lost: LostEvents | null = null;
  /** Set when copying stopped for good (the target is gone, out of memory…). */
  fatal: Error | null = null;
  private readonly copier: KeyCopier;
  private readonly filter: KeyFilter;
  private readonly nodes: NodeState[];
  private readonly pending = new Map<string, Pending>();
  private readonly inFlight = new Map<string, Pending>();
  private readonly batches = new Set<Promise<void>>();
  private readonly waiters: Array<{ resolve: () => void; reject: (err: Error) => void }> = [];
  private notifications = 0;
  private filteredHere = 0;
  private copying = false;
  private stopped = false;
  private pumpScheduled = false;
  private readonly onlyDb: number | null;

  constructor(private readonly o: KeyspaceFollowerOptions) {
    this.filter = new KeyFilter(o.job.options);
    this.copier = new KeyCopier({ sourceName: o.sourceName, source: o.source, target: o.target, job: o.job, pace: o.pace, onKeyError: o.onKeyError });
    const { source } = o;
    // A source URL that names a db follows that db alone (as the bulk copy reads it alone).
    this.onlyDb = source.isCluster ? 0 : source.address.dbInPath ? source.address.db : null;
    const masters = source.isCluster ? source.masters.map((m) => ({ host: m.host, port: m.port })) : [{ host: source.address.host, port: source.address.port }];
    this.nodes = masters.map((m) => ({ ...m, label: `${source.label} node ${m.host}:${m.port}`, configRefused: false, setting: { before: null, set: null }, sub: null, probe: null }));
  }

  // ---- the caller's API ----

  /**
   * Turns notifications on where needed (or checks them with probe keys where CONFIG is refused)
   * and subscribes on every master. Resolves once every subscription is confirmed: from then on no
   * change is missed. Rejects with NotificationsUnavailableError when notifications are off and
   * Ferry may not turn them on (after undoing what it did on other nodes).
   */
  async start(): Promise<void> {
    // Every node settles first: one still setting CONFIG while restore() runs would keep Ferry's value.
    const outcomes = await Promise.allSettled(this.nodes.map((node) => this.startNode(node)));
    const failed = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed) {
      await this.stop();
      throw failed.reason;
    }
  }

  /** Starts copying the pending keys and every later change: call it once the bulk copy is done. */
  startCopying(): void {
    this.copying = true;
    this.schedulePump();
  }

  /**
   * Resolves when nothing is pending and nothing is being copied (after startCopying; before it,
   * pending keys wait). Rejects when copying stopped for good (`fatal`).
   */
  drained(): Promise<void> {
    if (this.fatal) return Promise.reject(this.fatal);
    if (this.pending.size === 0 && this.inFlight.size === 0) return Promise.resolve();
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  /** Closes the subscriptions, waits for the copies in flight, and restores notify-keyspace-events. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const node of this.nodes) {
      node.sub?.close();
      node.sub = null;
    }
    while (this.batches.size > 0) await Promise.all([...this.batches]);
    const left = this.lagKeys;
    for (const w of this.waiters.splice(0)) w.reject(new Error(`${this.o.source.label}: the keyspace follower was stopped with ${left} changed key(s) not copied`));
    await this.restore();
  }

  /**
   * Puts notify-keyspace-events back as it was on every node Ferry changed, unless someone changed
   * it again meanwhile (then it is left alone, with a warning). Safe to call more than once.
   */
  async restore(): Promise<void> {
    await Promise.all(
      this.nodes.map(async (node) => {
        const { before, set } = node.setting;
        if (before === null || set === null) return;
        node.setting = { before: null, set: null };
        try {
          const conn = await this.o.source.nodeConnection(node.host, node.port);
          const now = replyText(replyArray(await conn.call('CONFIG', 'GET', 'notify-keyspace-events'))[1] ?? '');
          if (!sameFlags(now, set)) {
            this.o.onWarning?.(`${node.label}: notify-keyspace-events is "${now}" now, not the "${set}" Ferry set; left as it is (it was "${before}" before Ferry)`);
            return;
          }
          await conn.call('CONFIG', 'SET', 'notify-keyspace-events', before);
        } catch (err) {
          this.o.onWarning?.(`${node.label}: could not put notify-keyspace-events back to "${before}" (${(err as Error).message}); set it back by hand`);
        }
      }),
    );
  }

  /** Keys changed on the source and not yet on the target (waiting or being copied): the lag. */
  get lagKeys(): number {
    let n = this.pending.size;
    for (const id of this.inFlight.keys()) if (!this.pending.has(id)) n++;
    return n;
  }

  /** How long the oldest unsynced change has waited (ms); 0 when in sync. */
  get oldestPendingMs(): number {
    let oldest = Infinity;
    const first = this.pending.values().next();
    if (!first.done) oldest = first.value.since;
    for (const p of this.inFlight.values()) oldest = Math.min(oldest, p.since);
    return oldest === Infinity ? 0 : Math.max(0, Date.now() - oldest);
  }

  get counters(): FollowerCounters {
    const c = this.copier.counts;
    return {
      notifications: this.notifications,
      copied: c.copied,
      chunked: c.chunked,
      deleted: c.deleted,
      filtered: c.filtered + this.filteredHere,
      errors: c.errors,
      pending: this.lagKeys,
    };
  }

  /** Every master's subscription is up (false while one reconnects after a loss). */
  get subscribed(): boolean {
    return this.nodes.every((n) => n.sub !== null);
  }

  /** What Ferry set per node (`host:port` → value before, value set): for the plan and the log. */
  get settings(): Array<{ node: string; before: string; set: string }> {
    return this.nodes.flatMap((n) => (n.setting.before !== null && n.setting.set !== null ? [{ node: `${n.host}:${n.port}`, before: n.setting.before, set: n.setting.set }] : []));
  }

  // ---- notifications ----

  private async startNode(node: NodeState): Promise<void> {
    await this.ensureNotifications(node);
    await this.subscribe(node);
    if (node.configRefused) await this.probe(node);
  }

  /**
   * Reads notify-keyspace-events; when it lacks something, sets the union of what is there and
   * what is needed (remembering the old value). CONFIG GET refused: checked by a probe later.
   */
  private async ensureNotifications(node: NodeState): Promise<void> {
    const conn = await this.o.source.nodeConnection(node.host, node.port);
    let current: string;
    try {
      current = replyText(replyArray(await conn.call('CONFIG', 'GET', 'notify-keyspace-events'))[1] ?? '');
    } catch (err) {
      if (!isRefusal(err)) throw explainReplyError(node.label, ['CONFIG'], err);
      node.configRefused = true;
      return;
    }
    const streams = atLeast(this.o.source.facts, 5, 0);
    const missing = missingFlags(current, streams);
    if (missing.length === 0) return;
    const wanted = notifyFlagsWith(current);
    try {
      await conn.call('CONFIG', 'SET', 'notify-keyspace-events', wanted);
    } catch (err) {
      if (!isRefusal(err)) throw explainReplyError(node.label, ['CONFIG'], err);
      throw new NotificationsUnavailableError(
        `${node.label}: the server refuses SYNC/PSYNC, so Ferry follows changes by keyspace notifications, but notify-keyspace-events is "${current}" ` +
          `(missing ${missing.join(' ')}) and CONFIG SET is refused (${(err as Error).message}). ` +
          `Ask the provider (ElastiCache parameter group, Memorystore or Azure configuration…) to set notify-keyspace-events to "${wanted}"` +
          (current ? ` (that is: add ${[...new Set(missing.map((c) => (c === 'K' ? 'K' : 'A')))].join(' and ')} to the current "${current}")` : ''),
        `${node.host}:${node.port}`,
        current,
        wanted,
      );
    }
    // The old value is remembered before anything else can fail: restore() puts it back.
    if (node.setting.before === null) node.setting = { before: current, set: wanted };
    this.o.onWarning?.(`${node.label}: notify-keyspace-events was "${current}"; Ferry set it to "${wanted}" to follow changes, and puts it back when it stops`);
  }

  /** Opens the node's subscription connection (through its tunnel, with its TLS and password) and waits for the confirmation. */
  private async subscribe(node: NodeState): Promise<void> {
    const { source } = this.o;
    // The endpoint has connected to this node already (CONFIG above): its tunnel forward exists.
    await source.nodeConnection(node.host, node.port);
    const local = source.localAddressOf(node.host, node.port);
    const { address } = source;
    const sub = new Subscription({
      label: node.label,
      host: local.host,
      port: local.port,
      tls: address.tls && tlsForRealHost(address.tls, node.host),
      username: address.username,
      password: address.password,
      patterns: [`__keyspace@${this.onlyDb ?? '*'}__:*`],
      heartbeatMs: this.o.heartbeatMs ?? HEARTBEAT_MS,
      onMessage: (channel, event) => this.onNotification(node, channel, event),
      onLost: (reason) => this.onSubscriptionLost(node, reason),
    });
    await sub.open();
    if (this.stopped) return sub.close();
    node.sub = sub;
  }

  private onNotification(node: NodeState, channel: Buffer, event: string): void {
    const ref = parseKeyspaceChannel(channel);
    if (!ref || NOT_A_CHANGE.has(event)) return;
    // Ferry's own probe keys are never changes to copy (their last events may come after the probe).
    if (ref.key.subarray(0, PROBE_PREFIX_BYTES.length).equals(PROBE_PREFIX_BYTES)) {
      const cls = PROBE_EVENT_CLASS[event];
      if (cls && node.probe && ref.key.subarray(0, node.probe.prefix.length).equals(node.probe.prefix)) node.probe.seen.add(cls);
      return;
    }
    if ((this.onlyDb !== null && ref.db !== this.onlyDb) || !this.filter.matchesKey(ref.key)) {
      this.filteredHere++;
      return;
    }
    this.notifications++;
    const id = `${ref.db}:${ref.key.toString('latin1')}`;
    // The first unsynced change's time is kept: that is how long the key has lagged.
    if (!this.pending.has(id)) this.pending.set(id, { ...ref, since: Date.now() });
    this.schedulePump();
  }

  /** A subscription dropped: changes are missed until it is back. Reported, then it reconnects. */
  private onSubscriptionLost(node: NodeState, reason: string): void {
    node.sub = null;
    if (this.stopped) return;
    const lost: LostEvents = { at: Date.now(), node: `${node.host}:${node.port}`, reason };
    this.lostEvents = true;
    this.lost ??= lost;
    this.o.onLost?.(lost);
    void this.resubscribe(node);
  }

  private async resubscribe(node: NodeState): Promise<void> {
    for (let delay = 250; !this.stopped; delay = Math.min(delay * 2, RECONNECT_MAX_MS)) {
      await new Promise((r) => setTimeout(r, delay));
      if (this.stopped) return;
      try {
        // A restarted server lost a CONFIG SET: set it again (where Ferry may).
        if (!node.configRefused) await this.ensureNotifications(node);
        await this.subscribe(node);
        return;
      } catch (err) {
        if (err instanceof NotificationsUnavailableError) {
          this.o.onWarning?.(err.message);
          return;
        }
        // Not reachable yet: try again.
      }
    }
  }

  /**
   * Where CONFIG GET is refused, the only way to know whether notifications arrive is to cause
   * some: a few probe keys in the node's own slots (string, list, set, hash, zset, stream, an
   * expire, an expiry, a delete), removed at once. Evictions (`e`) cannot be provoked and are
   * assumed to follow the others.
   */
  private async probe(node: NodeState): Promise<void> {
    const { source } = this.o;
    const streams = atLeast(source.facts, 5, 0);
    const db = this.onlyDb ?? 0;
    if (!source.isCluster) await source.useDbs([db]);
    const prefix = `${PROBE_PREFIX}{${this.probeTag(node)}}:${process.pid}:${Date.now()}:`;
    const seen = new Set<string>();
    node.probe = { prefix: Buffer.from(prefix), seen };
    const k = (s: string) => Buffer.from(prefix + s);
    const send = (...args: Arg[]) => source.call(db, k('s'), ...args);
    const expected = [...(CLASSES + (streams ? STREAM_CLASS : ''))].filter((c) => c !== 'e');
    try {
      await Promise.all([
        send('SET', k('s'), '1'),
        send('PEXPIRE', k('s'), 60_000),
        send('RPUSH', k('l'), '1'),
        send('SADD', k('set'), '1'),
        send('HSET', k('h'), 'f', '1'),
        send('ZADD', k('z'), 1, 'm'),
        ...(streams ? [send('XADD', k('t'), '*', 'f', '1')] : []),
        send('SET', k('x'), '1', 'PX', 1),
      ]);
      // An access after the expiry makes the server delete the key and announce `expired`.
      await new Promise((r) => setTimeout(r, 20));
      await send('EXISTS', k('x'));
      await send('DEL', k('s'), k('l'), k('set'), k('h'), k('z'), ...(streams ? [k('t')] : []), k('x'));
    } catch (err) {
      node.probe = null;
      throw new NotificationsUnavailableError(
        `${node.label}: the server refuses SYNC/PSYNC and CONFIG, so Ferry checks keyspace notifications by writing probe keys (${PROBE_PREFIX}*), and that was refused too ` +
          `(${(err as Error).message}). Make sure notify-keyspace-events includes K and A (e.g. "KEA") on the server, and allow either CONFIG GET or writes to ${PROBE_PREFIX}* for Ferry's user`,
        `${node.host}:${node.port}`,
        null,
        'KA',
      );
    }
    const deadline = Date.now() + PROBE_WAIT_MS;
    while (Date.now() < deadline && !expected.every((c) => seen.has(c))) await new Promise((r) => setTimeout(r, 10));
    node.probe = null;
    const missing = expected.filter((c) => !seen.has(c));
    if (missing.length === 0) return;
    const none = seen.size === 0;
    throw new NotificationsUnavailableError(
      `${node.label}: the server refuses SYNC/PSYNC, so Ferry follows changes by keyspace notifications, but ` +
        (none ? 'none arrive' : `none arrive for the classes ${missing.join(' ')}`) +
        ` (CONFIG is refused, so Ferry cannot turn them on: probe keys showed it). Ask the provider (ElastiCache parameter group, Memorystore or Azure configuration…) ` +
        `to set notify-keyspace-events to "KA" (if it already holds other flags, keep them and add K and A: e.g. "Ex" becomes "KEA")`,
      `${node.host}:${node.port}`,
      null,
      'KA',
    );
  }

  /** A hash tag whose slot this node serves (any tag on a standalone server). */
  private probeTag(node: NodeState): string {
    const master = this.o.source.isCluster ? this.o.source.masters.find((m) => m.host === node.host && m.port === node.port) : undefined;
    if (!master) return 'ferry';
    for (let n = 0; ; n++) {
      const tag = `ferry-${n}`;
      const slot = keySlot(Buffer.from(tag));
      if (master.slots.some(([from, to]) => slot >= from && slot <= to)) return tag;
    }
  }

  // ---- copying ----

  private schedulePump(): void {
    if (this.pumpScheduled || !this.copying || this.stopped) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      this.pump();
    });
  }

  /** Starts batches while there is room; a key already being copied waits for that copy to end. */
  private pump(): void {
    const batchKeys = this.o.batchKeys ?? 100;
    const maxInFlight = this.o.maxInFlight ?? 1000;
    while (!this.stopped && !this.fatal && this.inFlight.size < maxInFlight) {
      const batch: Array<[string, Pending]> = [];
      const room = Math.min(batchKeys, maxInFlight - this.inFlight.size);
      for (const [id, p] of this.pending) {
        if (this.inFlight.has(id)) continue;
        batch.push([id, p]);
        if (batch.length >= room) break;
      }
      if (batch.length === 0) break;
      // Out of the pending set before the read: a change after the read brings the key back.
      for (const [id, p] of batch) {
        this.pending.delete(id);
        this.inFlight.set(id, p);
      }
      const running: Promise<void> = this.copyBatch(batch).finally(() => {
        this.batches.delete(running);
        for (const [id] of batch) this.inFlight.delete(id);
        this.checkDrained();
        this.schedulePump();
      });
      this.batches.add(running);
    }
    this.checkDrained();
  }

  private async copyBatch(batch: Array<[string, Pending]>): Promise<void> {
    try {
      await this.copier.copy(batch.map(([, p]) => p));
    } catch (err) {
      this.copier.fatal ??= err as Error;
    }
    if (this.copier.fatal && !this.fatal) {
      this.fatal = this.copier.fatal;
      this.o.onFatal?.(this.fatal);
      for (const w of this.waiters.splice(0)) w.reject(this.fatal);
    }
  }

  private checkDrained(): void {
    if (this.pending.size > 0 || this.inFlight.size > 0) return;
    for (const w of this.waiters.splice(0)) w.resolve();
  }
}

/** A server's refusal (unknown or renamed command, NOPERM, a proxy's error), not a lost connection. */
function isRefusal(err: unknown): boolean {
  return err instanceof ReplyError && err.code !== CONNECTION_LOST;
}

function sameFlags(a: string, b: string): boolean {
  const x = flagsOf(a);
  const y = flagsOf(b);
  return x.size === y.size && [...x].every((c) => y.has(c));
}

interface SubscriptionOptions {
  label: string;
  host: string;
  port: number;
  tls?: tls.ConnectionOptions;
  username?: string;
  password?: string;
  patterns: string[];
  heartbeatMs: number;
  onMessage(channel: Buffer, event: string): void;
  /** The connection dropped (not closed by Ferry). */
  onLost(reason: string): void;
}

/**
 * One subscription connection. RedisConnection matches every reply to a command, while a
 * subscribed connection receives messages nobody asked for: so this small client of its own,
 * with the same encoder and parser. A PING every few seconds notices a silent dead link (a
 * dropped VPN) that TCP would report only much later.
 */
class Subscription {
  private socket: net.Socket | null = null;
  private readonly encoder = new CommandEncoder();
  private readonly waiting: Array<(reply: Reply) => void> = [];
  private closedByFerry = false;
  /** Subscribed: only from then on is a drop a loss (before, open() fails instead). */
  private opened = false;
  private lostReported = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private pongDue = 0;

  constructor(private readonly o: SubscriptionOptions) {}

  async open(): Promise<void> {
    const { o } = this;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = o.tls ? tls.connect({ host: o.host, port: o.port, ...o.tls }) : net.connect({ host: o.host, port: o.port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new Error(`${o.label}: no answer from ${o.host}:${o.port} within 10 s (subscription connection)`));
      }, 10_000);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new Error(`${o.label}: cannot open the subscription connection: ${err.message}`));
      });
      s.once(o.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
    });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    const parser = new ReplyParser((reply) => this.deliver(reply));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        this.lose(`unreadable reply: ${(err as Error).message}`);
      }
    });
    socket.on('error', (err) => this.lose(err.message));
    socket.on('close', () => this.lose('connection closed'));
    try {
      if (o.password !== undefined || o.username !== undefined) {
        const auth: Arg[] = o.username ? ['AUTH', o.username, o.password ?? ''] : ['AUTH', o.password ?? ''];
        const reply = await this.request(auth);
        if (reply instanceof ReplyError && !/without any password configured/i.test(reply.message)) throw explainReplyError(o.label, ['AUTH'], reply);
      }
      await this.request(['CLIENT', 'SETNAME', 'ferry-keyspace']);
      // One confirmation per pattern.
      const confirmations = await this.request(['PSUBSCRIBE', ...o.patterns], o.patterns.length);
      const refused = confirmations.find((r) => r instanceof ReplyError);
      if (refused) throw explainReplyError(o.label, ['PSUBSCRIBE'], refused);
    } catch (err) {
      this.close();
      throw err;
    }
    this.heartbeat = setInterval(() => this.ping(), o.heartbeatMs);
    this.opened = true;
  }

  close(): void {
    this.closedByFerry = true;
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.socket?.destroy();
  }

  /** Sends a command; resolves with its `replies` replies (the last one alone when 1). */
  private request(args: Arg[]): Promise<Reply>;
  private request(args: Arg[], replies: number): Promise<Reply[]>;
  private request(args: Arg[], replies?: number): Promise<Reply | Reply[]> {
    return new Promise((resolve, reject) => {
      if (!this.socket || this.socket.destroyed) return reject(new Error(`${this.o.label}: the subscription connection is closed`));
      const got: Reply[] = [];
      const n = replies ?? 1;
      for (let i = 0; i < n; i++) {
        this.waiting.push((reply) => {
          got.push(reply);
          if (reply instanceof ReplyError && reply.code === CONNECTION_LOST) return reject(new Error(reply.message));
          if (got.length === n) resolve(replies === undefined ? got[0] : got);
        });
      }
      this.encoder.encode(args);
      for (const part of this.encoder.take()) this.socket.write(part);
    });
  }

  private ping(): void {
    if (this.pongDue && Date.now() > this.pongDue) {
      // No answer for a whole period: the link is dead even if TCP has not noticed.
      this.lose(`no answer to PING within ${(2 * this.o.heartbeatMs) / 1000} s`);
      this.socket?.destroy();
      return;
    }
    if (this.pongDue) return;
    this.pongDue = Date.now() + 2 * this.o.heartbeatMs;
    // Any answer will do (old servers refuse PING while subscribed: that is an answer too).
    this.request(['PING']).then(
      () => (this.pongDue = 0),
      () => undefined,
    );
  }

  /** Messages go to onMessage; anything else answers the oldest command waiting. */
  private deliver(reply: Reply): void {
    if (Array.isArray(reply) && reply.length >= 3) {
      const kind = Buffer.isBuffer(reply[0]) || typeof reply[0] === 'string' ? reply[0].toString() : '';
      if (kind === 'pmessage' && reply.length === 4) return this.o.onMessage(reply[2] as Buffer, replyText(reply[3]));
      if (kind === 'message') return this.o.onMessage(reply[1] as Buffer, replyText(reply[2]));
    }
    this.waiting.shift()?.(reply);
  }

  private lose(reason: string): void {
    if (this.heartbeat) clearInterval(this.heartbeat);
    const waiting = this.waiting.splice(0);
    for (const w of waiting) w(new ReplyError(`${this.o.label}: ${reason}`, CONNECTION_LOST));
    if (this.closedByFerry || !this.opened || this.lostReported) return;
    this.lostReported = true;
    this.o.onLost(reason);
  }
}
