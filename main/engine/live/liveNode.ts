import type { EngineEventOf, KeyCounts } from '../../../shared/events.js';
import { ReplicaLink, ReplicationError, type ReplicaLinkOptions, type ReplicationPosition, type SyncStart } from '../replication/index.js';
import type { RdbFileSource } from '../sources/rdbFileSource.js';
import type { RdbSourceFile } from '../sources/rdbFile.js';

export type LiveEvent = EngineEventOf<'live'>;
type Phase = LiveEvent['phase'];

/** Where the replication commands go: translated and applied on the target, in order. */
export interface CommandSink {
  /** Takes the next command of the stream (read at `readAtMs`); resolves when there is room for more. */
  push(argv: Buffer[], offset: number, readAtMs: number): Promise<void>;
  /** The offset up to which the target holds every effect of the stream. */
  readonly appliedOffset: number;
  /** Starts the sink over at `offset` (a new link: what is applied is counted from there). */
  resetTo(offset: number): void;
  /** Resolves when every command pushed is settled on the target. */
  drain(): Promise<void>;
  readonly counts: { applied: number; dropped: number; errors: number };
  /** Set when the target can take no more (connection lost, OOM, READONLY): the node stops with it. */
  readonly fatal: Error | null;
  /** After a lost target connection: target keys that may now hold a not-repeatable write twice. */
  uncertainKeys(): Array<{ db: number; key: Buffer; command: string }>;
}

export interface LiveNodeOptions {
  source: string;
  /** The node as the job names it, `host:port`. */
  node: string;
  /** How to reach the server whose stream is read (the staging replica, or the node itself). */
  link: Omit<ReplicaLinkOptions, 'resume'>;
  /** Where an earlier run got to (its checkpoint); null to start with a full sync. */
  resume: ReplicationPosition | null;
  /**
   * Copies a full sync's RDB into the target (an RdbFileSource over the link's stream). `again`:
   * the target already holds an earlier sync of this node (a full resync).
   */
  fullSync(file: RdbSourceFile, again: boolean): RdbFileSource;
  sink: CommandSink;
  /** The server's own replication offset (INFO replication: master_repl_offset), for the lag. */
  serverOffset(): Promise<number>;
  emit(event: LiveEvent): void;
  signal: AbortSignal;
  /** Between reconnect attempts: from this, doubling up to 10 s. */
  retryMs?: number;
  /** Give up after the link has been down this long (default 10 min). */
  giveUpMs?: number;
  eventEveryMs?: number;
}

/**
 * Live sync of one source node: Ferry as a replica of it (or of its staging replica). A full sync
 * copies the RDB through the normal writers, then the command stream is applied in order, and the
 * applied offset is acknowledged to the server. A dropped link reconnects with the last applied
 * offset, so the server continues where it stopped (partial resync) when its backlog still holds it.
 */
export class LiveNode {
  private phase: Phase = 'connecting';
  private resync: 'full' | 'partial' | null = null;
  private replid: string | null = null;
  private serverOffsetNow = 0;
  private behindSince: number | null = null;
  private message: string | undefined;
  private link: ReplicaLink | null = null;
  private copying: RdbFileSource | null = null;

  constructor(private readonly opts: LiveNodeOptions) {
    this.replid = opts.resume?.replid ?? null;
    if (opts.resume) opts.sink.resetTo(opts.resume.offset);
  }

  /** Where a later run may resume: the replid and the offset the target holds. */
  get position(): ReplicationPosition | null {
    if (this.replid === null || this.phase === 'full-sync') return this.saved;
    return { replid: this.replid, offset: this.opts.sink.appliedOffset };
  }

  /** The position before the current full sync began (a full sync cannot be resumed half-way). */
  private saved: ReplicationPosition | null = null;

  /** Runs until the signal aborts (then resolves) or the node fails for good (then rejects). */
  async run(): Promise<void> {
    const { opts } = this;
    this.saved = opts.resume;
    const ticker = setInterval(() => void this.tick(), opts.eventEveryMs ?? 1000);
    const stop = () => this.link?.close();
    opts.signal.addEventListener('abort', stop);
    try {
      let downSince: number | null = null;
      let retryMs = opts.retryMs ?? 250;
      while (!opts.signal.aborted) {
        try {
          await this.follow();
          // follow() returns only when stopped.
          break;
        } catch (err) {
          if (opts.signal.aborted) break;
          if (!(err instanceof ReplicationError) || !err.retryable) throw err;
          downSince ??= Date.now();
          if (Date.now() - downSince > (opts.giveUpMs ?? 600_000)) {
            throw new ReplicationError(err.kind, err.endpoint, `${err.message}; gave up after ${Math.round((Date.now() - downSince) / 1000)} s of reconnecting. Run again with --resume to continue from offset ${this.position?.offset ?? 0}`);
          }
          this.setPhase('reconnecting', err.message);
          await sleep(retryMs, opts.signal);
          retryMs = Math.min(retryMs * 2, 10_000);
          continue;
        }
      }
      this.setPhase('stopped');
    } catch (err) {
      // A refusal hands the source to the notifications fallback: not this node's failure to show.
      if (!(err instanceof ReplicationError && err.kind === 'refused')) this.setPhase('failed', (err as Error).message);
      throw err;
    } finally {
      clearInterval(ticker);
      opts.signal.removeEventListener('abort', stop);
      this.link?.close();
    }
  }

  /** One link: connect, full sync when the server says so, then apply the stream until it drops. */
  private async follow(): Promise<void> {
    const { opts } = this;
    this.setPhase(this.phase === 'reconnecting' ? 'reconnecting' : 'connecting');
    await opts.sink.drain();
    const resume = this.position ?? undefined;
    const link = await ReplicaLink.open({ ...opts.link, ...(resume && { resume }) });
    this.link = link;
    if (opts.signal.aborted) return link.close();
    this.replid = link.start.replid;
    if (link.start.mode === 'partial') {
      this.resync = 'partial';
      opts.sink.resetTo(link.start.offset);
      this.setPhase('streaming', link.start.replidChanged ? `the server changed its replication id (a failover); continuing at offset ${link.start.offset}` : undefined);
    } else {
      this.resync = 'full';
      await this.fullSync(link, link.start, resume);
      if (opts.signal.aborted) return;
      opts.sink.resetTo(link.start.offset);
      link.ack(link.start.offset);
      this.saved = this.replid === null ? null : { replid: this.replid, offset: link.start.offset };
      this.setPhase('streaming');
    }
    for await (const command of link.commands()) {
      await opts.sink.push(command.argv, command.offset, Date.now());
      if (opts.sink.fatal) throw opts.sink.fatal;
      link.ack(Math.min(opts.sink.appliedOffset, link.offset));
    }
    if (opts.sink.fatal) throw opts.sink.fatal;
  }

  private async fullSync(link: ReplicaLink, start: Exclude<SyncStart, { mode: 'partial' }>, resumedFrom: ReplicationPosition | undefined): Promise<void> {
    const { opts } = this;
    const why =
      start.mode === 'sync'
        ? `the server does not take PSYNC (${start.psyncError}): SYNC sends the whole dataset, and a dropped link will mean a whole new sync`
        : resumedFrom
          ? `the server no longer holds offset ${resumedFrom.offset} in its backlog: the whole dataset comes again (full resync)`
          : undefined;
    this.setPhase('full-sync', why);
    const file: RdbSourceFile = {
      name: opts.source,
      path: `${opts.node} (replication)`,
      size: start.rdbBytes ?? 0,
      mtimeMs: 0,
      rdbVersion: 0,
      stream: link.rdb(),
      label: `source ${opts.source} (full sync from ${opts.node})`,
    };
    this.copying = opts.fullSync(file, resumedFrom !== undefined);
    const stop = () => this.copying?.stop();
    opts.signal.addEventListener('abort', stop);
    try {
      await this.copying.run();
    } finally {
      opts.signal.removeEventListener('abort', stop);
    }
    if (opts.sink.fatal) throw opts.sink.fatal;
  }

  /** Counts of the full sync's keys (the normal writer's counts). */
  get fullSyncCounts(): KeyCounts | null {
    return this.copying?.counts ?? null;
  }

  private setPhase(phase: Phase, message?: string): void {
    this.phase = phase;
    this.message = message;
    this.emit();
  }

  private async tick(): Promise<void> {
    try {
      this.serverOffsetNow = await this.opts.serverOffset();
    } catch {
      // The server is unreachable: the link's own errors say so; the lag shows the last known.
    }
    this.emit();
  }

  private emit(): void {
    const { sink } = this.opts;
    const applied = sink.appliedOffset;
    const lagBytes = Math.max(0, this.serverOffsetNow - applied);
    const now = Date.now();
    if (lagBytes === 0 && this.phase === 'streaming') this.behindSince = null;
    else this.behindSince ??= now;
    this.opts.emit({
      type: 'live',
      source: this.opts.source,
      node: this.opts.node,
      phase: this.phase,
      resync: this.resync,
      serverOffset: this.serverOffsetNow,
      appliedOffset: applied,
      lagBytes,
      lagMs: this.behindSince === null ? 0 : now - this.behindSince,
      applied: sink.counts.applied,
      dropped: sink.counts.dropped,
      errors: sink.counts.errors,
      ...(this.message && { message: this.message }),
      at: now,
    });
  }
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const t = setTimeout(done, ms);
    function done() {
      clearTimeout(t);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done);
  });
}
