import net from 'node:net';
import type { Duplex } from 'node:stream';
import tls from 'node:tls';
import { encodeCommand, handshake, type ReplicationPosition } from './handshake.js';
import { RdbTransfer, readRdbFraming } from './rdbTransfer.js';
import { ReplicationError } from './replicationError.js';
import { SocketReader } from './socketReader.js';
import { StreamParser, StreamProtocolError } from './streamParser.js';

export type { ReplicationPosition } from './handshake.js';

export interface ReplicaLinkOptions {
  host: string;
  port: number;
  /** Names the endpoint in every error, e.g. `source idc-01 (10.0.0.11:6379)`. */
  label: string;
  username?: string;
  password?: string;
  /** TLS for the default connect (rediss://). */
  tls?: tls.ConnectionOptions;
  /** Opens the byte stream to the server instead of a plain TCP connect (e.g. over an SSH tunnel). */
  connect?: (host: string, port: number) => Promise<net.Socket | Duplex>;
  /**
   * Resume: the replid and the last offset the consumer has applied (what `position` gave). The
   * master is asked for the bytes after it (PSYNC replid offset+1).
   */
  resume?: ReplicationPosition;
  /** Default 10 s. */
  connectTimeoutMs?: number;
  /**
   * The link is dead when no byte arrives for this long while we wait for data (Redis's replicas
   * use repl-timeout, 60 s; the master PINGs every repl-ping-replica-period, 10 s). Default 60 s.
   */
  deadAfterMs?: number;
  /** REPLCONF ACK interval; default 1 s, as Redis's replicas. */
  ackIntervalMs?: number;
  /** Sent as REPLCONF listening-port when set; Redis needs none. */
  listeningPort?: number;
}

/** How the master agreed to feed us. */
export type SyncStart =
  /**
   * +FULLRESYNC: the whole dataset comes again as an RDB (read `rdb()`), then the commands from
   * `offset` on. After a `resume`, this means the master's backlog no longer held our offset.
   * `rdbBytes` is null for a diskless transfer (size unknown up front).
   */
  | { mode: 'full'; replid: string; offset: number; rdbBytes: number | null }
  /** +CONTINUE: a partial resync; the commands after `offset` follow, no RDB. */
  | { mode: 'partial'; replid: string; offset: number; replidChanged: boolean }
  /**
   * The server refused PSYNC and accepted SYNC (Redis before 2.8, or PSYNC renamed): an RDB, then
   * commands; offsets count stream bytes from 0, and a broken link cannot resume (a new SYNC
   * sends everything again). `psyncError` is why PSYNC was refused.
   */
  | { mode: 'sync'; replid: null; offset: 0; rdbBytes: number | null; psyncError: string };

/** One command of the replication stream, and the replication offset right after it. */
export interface ReplicationCommand {
  /** Arguments as bytes. They may share memory with the socket's chunks: copy the ones you keep. */
  argv: Buffer[];
  offset: number;
}

type Phase = 'rdb' | 'stream' | 'closed';

/** After the RDB: the first ACK is repeated this often, this many times (see rdbReceived). */
const FIRST_ACK_EVERY_MS = 100;
const FIRST_ACK_REPEATS = 20;

/**
 * A replica's side of one replication link: Ferry speaks the protocol a Redis replica speaks to its
 * master (a staging replica, or the source itself). After `open`, read `rdb()` (full or sync mode)
 * and then `commands()`; tell the link what has been applied with `ack(offset)`, which the master
 * sees through REPLCONF ACK (every second, and when it asks with REPLCONF GETACK). After a drop,
 * open a new link with `resume: link.position`; its `start.mode` says whether the master continued
 * (`partial`) or had to send everything again (`full`).
 *
 * Everything is pulled: the socket is read only when the consumer asks for the next RDB chunk or
 * command, so TCP slows the master instead of memory growing. (The master drops a replica that
 * reads nothing for its repl-timeout during a diskless transfer; keep consuming.)
 */
export class ReplicaLink {
  private phase: Phase;
  private readonly parser = new StreamParser();
  private transfer: RdbTransfer | null = null;
  private streaming = false;
  private timer: NodeJS.Timeout | null = null;
  private closedByUs = false;
  private replidNow: string | null;
  private offsetNow: number;
  private appliedNow: number;
  /** Whether the consumer has acked start.offset or more (after a full sync: applied the RDB). */
  private ackedStart: boolean;

  private constructor(
    private readonly socket: Duplex,
    private readonly reader: SocketReader,
    readonly label: string,
    readonly start: SyncStart,
    /** Whether the master knows REPLCONF (2.8+): before that, nothing may be written to it. */
    private readonly mayWrite: boolean,
    ackIntervalMs: number,
  ) {
    this.phase = start.mode === 'partial' ? 'stream' : 'rdb';
    this.replidNow = start.replid;
    this.offsetNow = start.offset;
    // A partial resync goes on from what the consumer had applied; after a full one, nothing of the
    // new dataset is applied yet (the master shows 0 until the consumer acks).
    this.appliedNow = start.mode === 'partial' ? start.offset : 0;
    this.ackedStart = start.mode === 'partial';
    this.timer = setInterval(() => this.keepAlive(), ackIntervalMs);
    this.timer.unref?.();
  }

  /**
   * Connects, authenticates and asks for the stream (PSYNC, or SYNC when PSYNC is refused). With a
   * full resync, resolves once the RDB transfer starts (the master may take a while to write it).
   * Rejects with a ReplicationError.
   */
  static async open(opts: ReplicaLinkOptions): Promise<ReplicaLink> {
    const { label } = opts;
    const deadAfterMs = opts.deadAfterMs ?? 60_000;
    const socket = await openSocket(opts);
    // Until the link exists, errors mean the handshake failed.
    let link: ReplicaLink | null = null;
    const reader = new SocketReader(socket, deadAfterMs, {
      idle: () =>
        link
          ? new ReplicationError('timeout', label, `no data from the master for ${seconds(deadAfterMs)} (not even its PINGs) at offset ${link.offsetNow}: the link is dead; check the network or tunnel, then reconnect to resume`)
          : new ReplicationError('timeout', label, `no answer for ${seconds(deadAfterMs)} during the replication handshake; check that this is a Redis server and that it is not overloaded`),
      end: (cause) => (link ? link.dropped(cause) : new ReplicationError('closed', label, `the server closed the connection during the replication handshake${cause ? ` (${cause.message})` : ''}; check its log (maxclients, protected-mode, replica limits)`)),
    });
    const write = (bytes: Buffer) => {
      if (socket.writable) socket.write(bytes);
    };
    try {
      const shake = await handshake(reader, write, { label, username: opts.username, password: opts.password, resume: opts.resume, listeningPort: opts.listeningPort });
      let start: SyncStart;
      let framing = null;
      if (shake.mode === 'partial') {
        start = { mode: 'partial', replid: shake.replid, offset: shake.offset, replidChanged: shake.replidChanged };
      } else {
        framing = await readRdbFraming(reader, label, shake.mode === 'sync' ? shake.psyncError : undefined);
        const rdbBytes = 'size' in framing ? framing.size : null;
        start = shake.mode === 'full' ? { mode: 'full', replid: shake.replid, offset: shake.offset, rdbBytes } : { mode: 'sync', replid: null, offset: 0, rdbBytes, psyncError: shake.psyncError };
      }
      link = new ReplicaLink(socket, reader, label, start, shake.replconf, opts.ackIntervalMs ?? 1000);
      if (framing) {
        const opened = link;
        link.transfer = new RdbTransfer(reader, framing, () => opened.rdbReceived());
      }
      return link;
    } catch (err) {
      socket.destroy();
      throw err;
    }
  }

  /** The master's replication id (after +CONTINUE with a new one: the new one); null in sync mode. */
  get replid(): string | null {
    return this.replidNow;
  }

  /** The replication offset after the last command handed out. */
  get offset(): number {
    return this.offsetNow;
  }

  /** The highest offset the consumer has acked. */
  get applied(): number {
    return this.appliedNow;
  }

  /**
   * Where to resume after a drop: the replid and the offset the consumer has applied. Null before
   * anything is applied after a full resync (nothing to resume from), and in sync mode.
   */
  get position(): ReplicationPosition | null {
    if (this.replidNow === null || this.start.mode === 'sync') return null;
    if (!this.ackedStart) return null;
    return { replid: this.replidNow, offset: this.appliedNow };
  }

  /**
   * The RDB payload (full and sync mode), as chunks for `readRdb(link.rdb(), opts)`. Read it whole
   * before `commands()`; what is left unread is skipped when the commands are asked for.
   */
  rdb(): AsyncIterable<Buffer> {
    if (!this.transfer) throw new Error(`${this.label}: a partial resync (+CONTINUE) has no RDB; read commands() directly`);
    const chunks = this.transfer.chunks();
    const link = this;
    return {
      [Symbol.asyncIterator]() {
        const it = chunks[Symbol.asyncIterator]();
        return {
          next: () => it.next().catch((err: unknown) => Promise.reject(link.failure(err))),
          return: () => it.return!(),
        };
      },
    };
  }

  /**
   * The command stream, each command with the replication offset after it, until close() (then it
   * ends) or the link fails (then it throws a ReplicationError: 'closed', 'timeout' or 'protocol').
   * The master's PINGs and `REPLCONF GETACK *` are commands too (they count in the offset): a
   * consumer skips them, but acks their offsets like any other.
   */
  async *commands(): AsyncGenerator<ReplicationCommand> {
    if (this.streaming) throw new Error(`${this.label}: commands() is already being read`);
    this.streaming = true;
    try {
      if (this.transfer && !this.transfer.done) {
        try {
          await this.transfer.drain();
        } catch (err) {
          if (this.closedByUs) return;
          throw this.failure(err);
        }
      }
      for (;;) {
        let command;
        try {
          while (!(command = this.parser.next())) {
            const chunk = await this.reader.readSome();
            this.parser.push(chunk);
          }
        } catch (err) {
          if (this.closedByUs) return;
          throw this.failure(err);
        }
        this.offsetNow += command.bytes;
        if (isGetAck(command.argv)) this.sendAck();
        yield { argv: command.argv, offset: this.offsetNow };
      }
    } finally {
      this.streaming = false;
    }
  }

  /**
   * The consumer has applied everything up to `offset` (a command's offset from commands(), or
   * start.offset once the RDB is applied). Reported to the master with the next REPLCONF ACK.
   */
  ack(offset: number): void {
    if (!Number.isSafeInteger(offset) || offset > this.offsetNow) {
      throw new RangeError(`${this.label}: cannot ack offset ${offset}; the link has handed out commands up to ${this.offsetNow}`);
    }
    // Below the start: not an offset of this link's data (nothing to report).
    if (offset < this.start.offset) return;
    this.ackedStart = true;
    if (offset > this.appliedNow) this.appliedNow = offset;
  }

  /** Ends the link: commands() ends, a pending RDB read fails with 'closed'. */
  close(): void {
    if (this.phase === 'closed') return;
    this.phase = 'closed';
    this.closedByUs = true;
    this.stopTimer();
    this.socket.destroy();
  }

  /**
   * The last payload byte is in: ACK at once, since after a diskless transfer the master starts the
   * stream only on an ACK. An ACK that arrives before the master has noted the end of its transfer
   * is ignored, and it may be a while until the next one: repeat it a few times at first.
   */
  private rdbReceived(): void {
    if (this.phase !== 'rdb') return;
    this.phase = 'stream';
    this.sendAck();
    let repeats = 0;
    const again = setInterval(() => {
      if (++repeats >= FIRST_ACK_REPEATS || this.phase !== 'stream') clearInterval(again);
      this.sendAck();
    }, FIRST_ACK_EVERY_MS);
    again.unref?.();
  }

  /** Every second: during the RDB a newline (the master takes it as a sign of life), then ACKs. */
  private keepAlive(): void {
    if (this.phase === 'rdb') this.write(Buffer.from('\n'));
    else this.sendAck();
  }

  private sendAck(): void {
    if (this.phase !== 'stream') return;
    this.write(encodeCommand(['REPLCONF', 'ACK', String(this.appliedNow)]));
  }

  private write(bytes: Buffer): void {
    if (this.mayWrite && this.socket.writable) this.socket.write(bytes);
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /** The error for a link that ended while data was wanted. */
  private dropped(cause?: Error): ReplicationError {
    this.stopTimer();
    if (this.closedByUs) return new ReplicationError('closed', this.label, 'the replication link was closed by Ferry');
    const where = this.phase === 'rdb' ? `during the RDB transfer (${this.transfer?.received ?? 0} bytes in)` : `at offset ${this.offsetNow}`;
    const resume = this.start.mode === 'sync' ? 'reconnecting starts a new full sync (this server knows only SYNC)' : 'reconnect to resume from the last applied offset';
    return new ReplicationError('closed', this.label, `the replication link dropped ${where}${cause ? ` (${cause.message})` : ''}; ${resume}`);
  }

  /** Any failure while reading, as a ReplicationError; the link is unusable after it. */
  private failure(err: unknown): Error {
    this.stopTimer();
    if (this.phase !== 'closed') {
      this.phase = 'closed';
      this.socket.destroy();
    }
    if (err instanceof ReplicationError) return err;
    if (err instanceof StreamProtocolError) return new ReplicationError('protocol', this.label, `${err.message}; the server does not speak the replication protocol as expected`);
    return err instanceof Error ? err : new Error(String(err));
  }
}

function isGetAck(argv: Buffer[]): boolean {
  return argv.length >= 2 && argv[0].length === 8 && argv[0].toString('latin1').toUpperCase() === 'REPLCONF' && argv[1].toString('latin1').toUpperCase() === 'GETACK';
}

function seconds(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000} s` : `${ms} ms`;
}

/** Opens the byte stream: the caller's connect (a tunnel), or TCP/TLS; failures are 'unreachable'. */
async function openSocket(opts: ReplicaLinkOptions): Promise<Duplex> {
  const timeoutMs = opts.connectTimeoutMs ?? 10_000;
  const where = `${opts.host}:${opts.port}`;
  let tcp: Duplex | null = null;
  let timedOut = false;
  const connect = opts.connect ? opts.connect(opts.host, opts.port) : tcpConnect(opts, (s) => (tcp = s));
  // A stream that arrives after the timeout: nobody will use it.
  connect.then((s) => (timedOut ? s.destroy() : undefined), () => undefined);
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      timedOut = true;
      (tcp as Duplex | null)?.destroy();
      reject(new ReplicationError('unreachable', opts.label, `no connection to ${where} within ${seconds(timeoutMs)}; check the host, port, firewall or tunnel`));
    }, timeoutMs);
  });
  try {
    const socket = await Promise.race([connect, timeout]);
    if (socket instanceof net.Socket) {
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 15_000);
    }
    return socket;
  } catch (err) {
    if (err instanceof ReplicationError) throw err;
    throw new ReplicationError('unreachable', opts.label, `cannot connect to ${where}: ${socketReason(err as NodeJS.ErrnoException)}`);
  } finally {
    clearTimeout(timer);
  }
}

function tcpConnect(opts: ReplicaLinkOptions, started: (s: Duplex) => void): Promise<Duplex> {
  return new Promise((resolve, reject) => {
    const socket = opts.tls
      ? tls.connect({ host: opts.host, port: opts.port, servername: net.isIP(opts.host) ? undefined : opts.host, ...opts.tls })
      : net.connect({ host: opts.host, port: opts.port });
    started(socket);
    socket.once('error', reject);
    socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
      socket.off('error', reject);
      resolve(socket);
    });
  });
}

function socketReason(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is redis-server running there, and is the port right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found (check the host in the URL)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable (check the network or VPN)';
    default:
      return err.message;
  }
}
