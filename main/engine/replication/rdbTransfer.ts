import { replyError } from './handshake.js';
import { ReplicationError } from './replicationError.js';
import type { SocketReader } from './socketReader.js';

/** The length of the diskless transfer's end mark (a run id: 40 random hex characters). */
const MARK_BYTES = 40;
const MAX_HEADER_LINE = 64 * 1024;

/** How the RDB payload is framed: `$<size>\r\n<bytes>` (from disk) or `$EOF:<mark>\r\n<bytes><mark>` (diskless). */
export type RdbFraming = { size: number } | { eofMark: Buffer };

/**
 * Reads the line that announces the RDB payload. Before it, while the master prepares the RDB
 * (BGSAVE), it sends bare newlines as keepalives: they are skipped. An error line here is SYNC's
 * refusal (`psyncError`: why PSYNC was refused before).
 */
export async function readRdbFraming(reader: SocketReader, label: string, psyncError?: string): Promise<RdbFraming> {
  for (;;) {
    let line: string;
    try {
      line = await reader.readLine(MAX_HEADER_LINE);
    } catch (err) {
      if (err instanceof ReplicationError) throw err;
      throw new ReplicationError('protocol', label, `waiting for the RDB: ${(err as Error).message}`);
    }
    if (line === '') continue;
    if (line.startsWith('-')) throw replyError(label, psyncError !== undefined ? 'SYNC' : 'PSYNC', line, psyncError);
    if (line.startsWith('$EOF:')) {
      const mark = Buffer.from(line.slice(5), 'latin1');
      if (mark.length !== MARK_BYTES) throw new ReplicationError('protocol', label, `a diskless RDB transfer with a ${mark.length}-byte end mark (expected ${MARK_BYTES})`);
      return { eofMark: mark };
    }
    const size = Number(line.slice(1));
    if (line[0] !== '$' || !/^\d+$/.test(line.slice(1)) || !Number.isSafeInteger(size)) {
      throw new ReplicationError('protocol', label, `expected the RDB's length ($<bytes>), got ${JSON.stringify(line.slice(0, 200))}`);
    }
    return { size };
  }
}

/**
 * The RDB payload as chunks, pulled from the socket one at a time (nothing is read ahead, so a slow
 * consumer slows the master down through TCP instead of filling memory). Bytes read past the end
 * are put back for the command stream.
 */
export class RdbTransfer {
  /** Payload bytes handed out so far. */
  received = 0;
  done = false;
  private started = false;
  /** The one reading of the payload; what a consumer leaves unread, drain() reads on from here. */
  private payload: AsyncGenerator<Buffer> | null = null;

  constructor(
    private readonly reader: SocketReader,
    readonly framing: RdbFraming,
    /** Called once, when the last payload byte has been read from the socket. */
    private readonly onDone: () => void,
  ) {}

  /**
   * The payload, once. A consumer that stops early (readRdb does on an error) does not end the
   * transfer: the rest can still be drained, so the command stream behind it stays usable.
   */
  chunks(): AsyncIterable<Buffer> {
    if (this.started) throw new Error('the RDB of a replication link can be read only once');
    this.started = true;
    const payload = this.open();
    return {
      [Symbol.asyncIterator]: () => ({
        next: () => payload.next(),
        return: async () => ({ done: true, value: undefined }),
      }),
    };
  }

  /** Reads and drops what has not been read of the payload. */
  async drain(): Promise<void> {
    const payload = this.open();
    while (!this.done) {
      const next = await payload.next();
      if (next.done) break;
    }
  }

  private open(): AsyncGenerator<Buffer> {
    this.payload ??= 'size' in this.framing ? this.sized(this.framing.size) : this.marked(this.framing.eofMark);
    return this.payload;
  }

  private async *sized(size: number): AsyncGenerator<Buffer> {
    let left = size;
    if (left === 0) this.finish();
    while (left > 0) {
      let chunk = await this.reader.readSome();
      if (chunk.length > left) {
        this.reader.unread(chunk.subarray(left));
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      this.received += chunk.length;
      if (left === 0) this.finish();
      yield chunk;
    }
  }

  /**
   * Diskless: the payload ends where the stream ends with the mark. As Redis's own replica does, the
   * mark is looked for at the end of what has arrived: the master sends nothing after it until the
   * replica's first ACK. The last MARK_BYTES bytes are held back until more arrive, since they may
   * be the mark.
   */
  private async *marked(mark: Buffer): AsyncGenerator<Buffer> {
    let tail: Buffer = Buffer.alloc(0);
    for (;;) {
      const chunk = await this.reader.readSome();
      let out: Buffer;
      if (chunk.length >= MARK_BYTES) {
        out = tail;
        if (out.length > 0) {
          this.received += out.length;
          yield out;
        }
        out = chunk.subarray(0, chunk.length - MARK_BYTES);
        tail = chunk.subarray(chunk.length - MARK_BYTES);
      } else {
        const joined = Buffer.concat([tail, chunk]);
        const keep = Math.min(MARK_BYTES, joined.length);
        out = joined.subarray(0, joined.length - keep);
        tail = joined.subarray(joined.length - keep);
      }
      const end = tail.length === MARK_BYTES && tail.equals(mark);
      if (end) this.finish();
      if (out.length > 0) {
        this.received += out.length;
        yield out;
      }
      if (end) return;
    }
  }

  private finish(): void {
    this.done = true;
    this.onDone();
  }
}
