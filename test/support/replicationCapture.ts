import net from 'node:net';
import { RedisConnection } from '../../main/engine/resp/connection.js';
import { replyText } from '../../main/engine/resp/reply.js';

/** One command as a master propagates it, with the master offset just after it. */
export interface CapturedCommand {
  argv: Buffer[];
  offset: number;
  /** When it was read (local clock): what a live reader hands the translator as "now". */
  readAtMs: number;
}

/**
 * What a master really sends its replicas, for tests: a raw connection that says `PSYNC ? -1`,
 * skips the RDB and collects the command stream (no MONITOR, no replica server). Test-only: the
 * engine's own reader lives in main/engine/replication.
 */
export class ReplicationCapture {
  readonly commands: CapturedCommand[] = [];
  private buffer: Buffer = Buffer.alloc(0);
  private phase: 'replconf' | 'psync' | 'rdb-header' | 'rdb' | 'stream' = 'replconf';
  private rdbLeft = 0;
  private eofMark: Buffer | null = null;
  private offsetNow = 0;
  private readonly ack: NodeJS.Timeout;
  private synced!: () => void;
  private failed!: (err: Error) => void;
  readonly ready: Promise<void>;

  private constructor(
    private readonly socket: net.Socket,
    private readonly port: number,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.synced = resolve;
      this.failed = reject;
    });
    socket.on('data', (chunk: Buffer) => {
      this.buffer = this.buffer.length ? Buffer.concat([this.buffer, chunk]) : chunk;
      try {
        this.parse();
      } catch (err) {
        this.failed(err as Error);
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.failed(err));
    // A replica acknowledges its offset every second; the master would otherwise time it out.
    this.ack = setInterval(() => {
      if (this.phase === 'stream') socket.write(encode(['REPLCONF', 'ACK', String(this.offsetNow)]));
    }, 1000);
  }

  /** Connects as a replica of the server on `port`; resolves once the RDB is skipped and commands flow. */
  static async start(port: number): Promise<ReplicationCapture> {
    const socket = net.connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    const capture = new ReplicationCapture(socket, port);
    socket.write(encode(['REPLCONF', 'capa', 'eof', 'capa', 'psync2']));
    await capture.ready;
    return capture;
  }

  /** The master offset after the last command captured. */
  get offset(): number {
    return this.offsetNow;
  }

  /** Waits until every command the master has propagated so far has been captured. */
  async caughtUp(timeoutMs = 10_000): Promise<void> {
    const conn = await RedisConnection.connect({ host: '127.0.0.1', port: this.port, label: 'capture' });
    try {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const info = replyText(await conn.call('INFO', 'replication'));
        const masterOffset = Number(/master_repl_offset:(\d+)/.exec(info)?.[1] ?? -1);
        if (this.offsetNow >= masterOffset) return;
        if (Date.now() > deadline) throw new Error(`capture at offset ${this.offsetNow}, master at ${masterOffset}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    } finally {
      conn.close();
    }
  }

  close(): void {
    clearInterval(this.ack);
    this.socket.destroy();
  }

  private parse(): void {
    for (;;) {
      if (this.phase === 'replconf' || this.phase === 'psync' || this.phase === 'rdb-header') {
        // The master sends bare newlines as keepalives while it prepares the RDB.
        let start = 0;
        while (this.buffer[start] === 0x0a) start++;
        const end = this.buffer.indexOf('\r\n', start);
        if (end < 0) return;
        const line = this.buffer.subarray(start, end).toString('latin1');
        this.buffer = this.buffer.subarray(end + 2);
        if (line.startsWith('-')) throw new Error(`master refused: ${line}`);
        if (this.phase === 'replconf') {
          this.phase = 'psync';
          this.socket.write(encode(['PSYNC', '?', '-1']));
        } else if (this.phase === 'psync') {
          const m = /^\+FULLRESYNC (\S+) (\d+)/.exec(line);
          if (!m) throw new Error(`unexpected PSYNC reply: ${line}`);
          this.offsetNow = Number(m[2]);
          this.phase = 'rdb-header';
        } else {
          if (line.startsWith('$EOF:')) this.eofMark = Buffer.from(line.slice(5), 'latin1');
          else this.rdbLeft = Number(line.slice(1));
          this.phase = 'rdb';
        }
        continue;
      }
      if (this.phase === 'rdb') {
        if (this.eofMark) {
          const at = this.buffer.indexOf(this.eofMark);
          if (at < 0) return;
          this.buffer = this.buffer.subarray(at + this.eofMark.length);
        } else {
          if (this.buffer.length < this.rdbLeft) return;
          this.buffer = this.buffer.subarray(this.rdbLeft);
        }
        this.phase = 'stream';
        this.synced();
        continue;
      }
      const command = readCommand(this.buffer);
      if (!command) return;
      this.buffer = this.buffer.subarray(command.bytes);
      this.offsetNow += command.bytes;
      this.commands.push({ argv: command.argv, offset: this.offsetNow, readAtMs: Date.now() });
    }
  }
}

/** One RESP array of bulk strings from the front of `buf`, or null when it is not complete yet. */
function readCommand(buf: Buffer): { argv: Buffer[]; bytes: number } | null {
  if (buf.length === 0) return null;
  if (buf[0] !== 0x2a) throw new Error(`unexpected byte ${buf[0]} in the replication stream`);
  let at = buf.indexOf('\r\n');
  if (at < 0) return null;
  const n = Number(buf.subarray(1, at).toString('latin1'));
  let pos = at + 2;
  const argv: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    at = buf.indexOf('\r\n', pos);
    if (at < 0) return null;
    const len = Number(buf.subarray(pos + 1, at).toString('latin1'));
    const start = at + 2;
    if (buf.length < start + len + 2) return null;
    argv.push(Buffer.from(buf.subarray(start, start + len)));
    pos = start + len + 2;
  }
  return { argv, bytes: pos };
}

function encode(args: string[]): string {
  return `*${args.length}\r\n${args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('')}`;
}
