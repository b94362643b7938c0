import fs from 'node:fs';
import path from 'node:path';
import type { EngineEventOf } from '../../../shared/events.js';
import { formatBytes } from '../../../shared/format.js';
import { parseInfo } from '../endpoints/serverFacts.js';
import { startRedisProcess, type RedisProcess } from '../sandbox/redisProcess.js';
import { RedisConnection } from '../resp/connection.js';
import { replyText } from '../resp/reply.js';

export type StagingEvent = EngineEventOf<'staging'>;

export interface StagingSpec {
  /** Source name (messages, events). */
  source: string;
  /** The source node as the job names it, `host:port` (messages, events). */
  node: string;
  /** Where the local redis-server reaches the master: may be a tunnel's local forward, so always these, never `node`. */
  master: { host: string; port: number; username?: string; password?: string };
  /** The replica's own directory (created); removed by stop() unless keepFiles. */
  dir: string;
  /** redis-server binary; default redisServerBinary() (FERRY_REDIS_SERVER or PATH). */
  redisServer?: string;
  /** The source's `databases` setting when above 16: a replica with fewer dbs exits while loading the RDB. */
  databases?: number;
  onEvent?: (e: StagingEvent) => void;
  signal?: AbortSignal;
  /** INFO poll interval; default 250 ms. */
  pollMs?: number;
  /** How long the link may stay down with no transfer going on before waitSynced gives up; default 30 s. */
  linkTimeoutMs?: number;
}

export type StagingErrorKind = 'refused' | 'auth' | 'unreachable' | 'timeout' | 'crashed' | 'aborted' | 'start';

export class StagingError extends Error {
  constructor(
    message: string,
    readonly kind: StagingErrorKind,
  ) {
    super(message);
    this.name = 'StagingError';
  }
}

// A replica outlives Ferry if Ferry exits without stop() (an uncaught error): kill what is left on exit.
const live = new Set<number>();
let exitHookSet = false;
function track(pid: number): void {
  live.add(pid);
  if (exitHookSet) return;
  exitHookSet = true;
  process.once('exit', () => {
    for (const p of live) {
      try {
        process.kill(p, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  });
}

// Files a redis-server leaves in its dir. Anything else there means the dir is not ours to delete.
const OWN_FILES = /^(redis\.log|dump\.rdb|temp-.*\.rdb)$/;

/**
 * A local redis-server replicating one source node, so the source serves a single sync; once
 * synced it is detached into a frozen point-in-time copy that Ferry reads at its own pace.
 */
export class StagingReplica {
  readonly host = '127.0.0.1' as const;
  readonly port: number;
  readonly pid: number;
  private synced = false;
  private stopping: Promise<void> | null = null;
  private stoppedEmitted = false;
  private received = 0;
  private total: number | null = null;

  private constructor(
    private readonly spec: StagingSpec,
    private readonly proc: RedisProcess,
    private readonly conn: RedisConnection,
    private readonly log: LogWatch,
  ) {
    this.port = proc.port;
    this.pid = proc.pid;
    track(proc.pid);
  }

  /** Its directory (data and log). */
  get dir(): string {
    return this.spec.dir;
  }

  private get label(): string {
    return `source ${this.spec.source} (${this.spec.node})`;
  }

  static async start(spec: StagingSpec): Promise<StagingReplica> {
    const label = `source ${spec.source} (${spec.node})`;
    const emit = (state: StagingEvent['state'], message?: string) =>
      spec.onEvent?.({ type: 'staging', source: spec.source, node: spec.node, state, receivedBytes: 0, totalBytes: null, message, at: Date.now() });
    emit('starting');
    let proc: RedisProcess | null = null;
    let conn: RedisConnection | null = null;
    let dirIsOurs = false;
    try {
      if (spec.signal?.aborted) throw new StagingError(`${label}: staging cancelled`, 'aborted');
      clearDir(spec.dir, label);
      dirIsOurs = true;
      const args = ['--replica-read-only', 'yes', '--repl-diskless-load', 'disabled'];
      if (spec.databases && spec.databases > 16) args.push('--databases', String(spec.databases));
      proc = await startRedisProcess({ dir: spec.dir, binary: spec.redisServer, extraArgs: args });
      conn = await RedisConnection.connect({ host: '127.0.0.1', port: proc.port, label: `staging replica of ${label}` });
      // Credentials go over the connection, not argv, where any local user could read them with ps.
      const { username, password } = spec.master;
      if (username && username !== 'default') await conn.call('CONFIG', 'SET', 'masteruser', username);
      if (password) await conn.call('CONFIG', 'SET', 'masterauth', password);
      const log = new LogWatch(path.join(spec.dir, 'redis.log'));
      await conn.call('REPLICAOF', spec.master.host, String(spec.master.port));
      return new StagingReplica(spec, proc, conn, log);
    } catch (err) {
      conn?.close();
      await proc?.stop();
      if (dirIsOurs) fs.rmSync(spec.dir, { recursive: true, force: true });
      const error = err instanceof StagingError ? err : new StagingError(`${label}: could not start the staging replica: ${(err as Error).message}`, 'start');
      emit('failed', error.message);
      throw error;
    }
  }

  /** Resolves once the replica holds the master's data and follows its stream (link up, nothing loading). */
  async waitSynced(): Promise<void> {
    try {
      await this.pollUntilSynced();
    } catch (err) {
      const error = err instanceof StagingError ? err : new StagingError(`${this.label}: staging failed: ${(err as Error).message}`, 'crashed');
      this.emit('failed', error.message);
      throw error;
    }
  }

  private async pollUntilSynced(): Promise<void> {
    const { signal } = this.spec;
    const pollMs = this.spec.pollMs ?? 250;
    const linkTimeoutMs = this.spec.linkTimeoutMs ?? 30_000;
    let idleSince = Date.now();
    let lastReason: LogFinding | null = null;
    let lastLoadedPerc = '';
    for (;;) {
      if (signal?.aborted) throw new StagingError(`${this.label}: staging cancelled`, 'aborted');
      for (const finding of this.log.findings()) {
        if (finding.kind === 'auth' || finding.kind === 'refused') throw this.refusal(finding);
        lastReason = finding;
      }

      const info = await this.info();
      const linkUp = info.get('master_link_status') === 'up';
      const transferring = info.get('master_sync_in_progress') === '1';
      const loading = info.get('loading') === '1';
      if (linkUp && !transferring && !loading && (await this.caughtUp(pollMs))) {
        this.synced = true;
        this.emit('synced');
        return;
      }
      if (transferring || loading) {
        // A transfer in progress is alive: a stalled one is cut by the replica's own repl-timeout.
        idleSince = Date.now();
        this.received = Number(info.get('master_sync_read_bytes') ?? 0);
        const total = Number(info.get('master_sync_total_bytes') ?? -1);
        // A diskless master streams with an EOF mark: the size is unknown (-1 or 0) until the end.
        this.total = total > 0 ? total : null;
        if (loading) {
          this.total = this.received;
          const perc = info.get('loading_loaded_perc') ?? '';
          if (perc !== lastLoadedPerc) this.emit('loading', `loaded ${perc}% of the RDB`);
          lastLoadedPerc = perc;
        } else {
          this.emit('syncing');
        }
      } else if (Date.now() - idleSince > linkTimeoutMs) {
        throw this.linkTimeout(linkTimeoutMs, lastReason);
      }
      await sleep(pollMs, signal);
    }
  }

  /**
   * A link that just came up still has to apply the writes the master buffered during the sync
   * (measured: over a second's worth after a 1 s sync under load). Waits until the replica has
   * applied the master's offset as of now, so a detach right after is a copy of about now.
   * Best effort: a master that refuses INFO leaves the copy consistent, only older.
   * False when the link dropped meanwhile (the replica resyncs; polling goes on).
   */
  private async caughtUp(pollMs: number): Promise<boolean> {
    const target = await this.masterOffset();
    if (target === null) return true;
    for (;;) {
      if (this.spec.signal?.aborted) throw new StagingError(`${this.label}: staging cancelled`, 'aborted');
      const info = await this.info();
      if (info.get('master_link_status') !== 'up') return false;
      const applied = Number(info.get('slave_repl_offset') ?? 0);
      if (applied >= target) return true;
      this.emit('syncing', `catching up with the writes made during the sync: ${formatBytes(target - applied)} behind`);
      await sleep(pollMs, this.spec.signal);
    }
  }

  private async masterOffset(): Promise<number | null> {
    const { host, port, username, password } = this.spec.master;
    let conn: RedisConnection | null = null;
    try {
      conn = await RedisConnection.connect({ host, port, label: this.label, connectTimeoutMs: 5000 });
      if (password) await conn.call(...(username ? ['AUTH', username, password] : ['AUTH', password]));
      const offset = Number(parseInfo(replyText(await conn.call('INFO', 'replication'))).get('master_repl_offset'));
      return Number.isFinite(offset) && offset > 0 ? offset : null;
    } catch {
      return null;
    } finally {
      conn?.close();
    }
  }

  /** REPLICAOF NO ONE: from here on the copy no longer changes (no writes reach it but Ferry's own). */
  async detach(): Promise<void> {
    if (!this.synced) throw new StagingError(`${this.label}: the staging replica cannot be detached before it has synced`, 'start');
    await this.conn.call('REPLICAOF', 'NO', 'ONE');
    this.emit('detached');
  }

  /** SHUTDOWN NOSAVE (SIGKILL when it does not exit), then removes the directory unless keepFiles. */
  async stop(opts: { keepFiles: boolean }): Promise<void> {
    this.stopping ??= this.stopProcess();
    await this.stopping;
    if (!opts.keepFiles) await fs.promises.rm(this.spec.dir, { recursive: true, force: true });
    if (!this.stoppedEmitted) {
      this.stoppedEmitted = true;
      this.emit('stopped', opts.keepFiles ? `files kept in ${this.spec.dir}` : undefined);
    }
  }

  private async stopProcess(): Promise<void> {
    // The reply never comes: the server closes the connection as it exits.
    await this.conn.call('SHUTDOWN', 'NOSAVE').catch(() => undefined);
    this.conn.close();
    const deadline = Date.now() + 5000;
    while (isAlive(this.proc.pid) && Date.now() < deadline) await sleep(20);
    await this.proc.stop(); // kills it if it is still there; returns at once if it exited
    live.delete(this.proc.pid);
  }

  private async info(): Promise<Map<string, string>> {
    try {
      return parseInfo(replyText(await this.conn.call('INFO')));
    } catch (err) {
      if (!this.conn.closed && isAlive(this.proc.pid)) throw err;
      if (this.stopping) throw new StagingError(`${this.label}: the staging replica was stopped`, 'aborted');
      const tail = this.log.tail(10);
      // The one exit seen in practice: the source has more dbs than the replica was started with.
      const hint = /more than \d+ databases/.test(tail) ? ' The source has more databases than the replica: start it with the source\'s `databases` setting.' : '';
      throw new StagingError(`${this.label}: the staging redis-server stopped during the sync.${hint} Its log ends with:\n${tail}`, 'crashed');
    }
  }

  private refusal(finding: LogFinding): StagingError {
    if (finding.kind === 'auth') {
      const what = this.spec.master.password ? 'the password' : 'no password';
      const fix = this.spec.master.password
        ? 'Check the password (and the username, for an ACL user) in the source URL'
        : 'Put the password in the source URL';
      return new StagingError(
        `${this.label}: the staging replica could not log in to the master with ${what} (${finding.reason}). ${fix}: redis://user:password@host:port.`,
        'auth',
      );
    }
    return new StagingError(
      `${this.label} refuses replication (${finding.reason}): managed services and ACL users without +sync/+psync do not allow SYNC/PSYNC, ` +
        'so a staging replica cannot be used. Set stage: direct for this source to read it with SCAN + DUMP.',
      'refused',
    );
  }

  private linkTimeout(ms: number, reason: LogFinding | null): StagingError {
    const { host, port } = this.spec.master;
    const where = `${host}:${port}` === this.spec.node ? `${host}:${port}` : `${host}:${port} (for ${this.spec.node})`;
    const seconds = Math.round(ms / 1000);
    if (reason?.kind === 'unreachable') {
      return new StagingError(
        `${this.label}: the staging replica could not reach the master at ${where} within ${seconds} s (${reason.reason}). ` +
          'Check that it is reachable from this machine, or set stage: direct for this source.',
        'unreachable',
      );
    }
    return new StagingError(
      `${this.label}: the replication link to ${where} did not come up within ${seconds} s (${reason ? `last error: ${reason.reason}` : 'no error in the replica log'}). ` +
        'The server may not allow replication; set stage: direct for this source.',
      'timeout',
    );
  }

  private emit(state: StagingEvent['state'], message?: string): void {
    this.spec.onEvent?.({
      type: 'staging',
      source: this.spec.source,
      node: this.spec.node,
      state,
      receivedBytes: this.received,
      totalBytes: this.total,
      message,
      at: Date.now(),
    });
  }
}

/** Removes what a previous staging run left (an old dump.rdb would be loaded at start); refuses a dir that holds other files. */
function clearDir(dir: string, label: string): void {
  if (!fs.existsSync(dir)) return;
  const entries = fs.readdirSync(dir);
  const foreign = entries.filter((e) => !OWN_FILES.test(e));
  if (foreign.length > 0) {
    throw new StagingError(`${label}: the staging directory ${dir} holds other files (${foreign.slice(0, 3).join(', ')}); Ferry deletes it afterwards, so give it an empty one`, 'start');
  }
  for (const e of entries) fs.rmSync(path.join(dir, e), { force: true });
}

interface LogFinding {
  kind: 'auth' | 'refused' | 'unreachable' | 'other';
  reason: string;
}

// Replication lines of redis-server 7.0 (and Valkey's PRIMARY wording); the first match wins.
const AUTH_TEXT = /WRONGPASS|invalid password|invalid username-password|NOAUTH|Authentication required/i;
const TRANSIENT = /^-?(NOMASTERLINK|LOADING)/;
const LOG_PATTERNS: Array<[RegExp, LogFinding['kind']]> = [
  [/Unable to AUTH to (?:MASTER|PRIMARY): (.+)/, 'auth'],
  [/(?:MASTER|PRIMARY) aborted replication with an error: (.+)/, 'refused'],
  [/Unexpected reply to PSYNC from (?:master|primary): (.+)/, 'other'],
  [/does not support PSYNC or is in error state \(reply: (.+)\)/, 'other'],
  [/Error condition on socket for SYNC: (.+)/, 'unreachable'],
  [/Unable to connect to (?:MASTER|PRIMARY): (.+)/, 'unreachable'],
  [/(Timeout connecting to the (?:MASTER|PRIMARY).*)/, 'unreachable'],
  [/Error reply to PING from (?:master|primary): (.+)/, 'other'],
  [/((?:Master|Primary) did not (?:respond|reply).*|Timeout receiving bulk data.*|(?:MASTER|PRIMARY) timeout: .*|I\/O error .*)/, 'other'],
];

export function classifyLogLine(line: string): LogFinding | null {
  for (const [pattern, kind] of LOG_PATTERNS) {
    const m = pattern.exec(line);
    if (!m) continue;
    const reason = m[1].trim().replace(/^'(.*)'$/, '$1');
    // A master that requires a password the replica lacks answers PSYNC/SYNC with NOAUTH.
    if (AUTH_TEXT.test(reason)) return { kind: 'auth', reason };
    if (kind === 'refused' && TRANSIENT.test(reason)) return { kind: 'other', reason };
    return { kind, reason };
  }
  return null;
}

/** Reads the lines redis-server appends to its log, from where it stood when created. */
class LogWatch {
  private offset: number;
  private rest = '';

  constructor(private readonly file: string) {
    this.offset = fs.existsSync(file) ? fs.statSync(file).size : 0;
  }

  *findings(): Generator<LogFinding> {
    for (const line of this.newLines()) {
      const finding = classifyLogLine(line);
      if (finding) yield finding;
    }
  }

  tail(lines: number): string {
    try {
      return fs.readFileSync(this.file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private newLines(): string[] {
    let fd: number;
    try {
      fd = fs.openSync(this.file, 'r');
    } catch {
      return [];
    }
    try {
      // A master refusing sync makes the replica retry in a tight loop: read in bounded steps.
      const buf = Buffer.alloc(1 << 20);
      const n = fs.readSync(fd, buf, 0, buf.length, this.offset);
      this.offset += n;
      const text = this.rest + buf.toString('utf8', 0, n);
      const lines = text.split('\n');
      this.rest = lines.pop() ?? '';
      return lines;
    } finally {
      fs.closeSync(fd);
    }
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}
