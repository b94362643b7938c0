/** One command of the replication stream and the number of stream bytes it took. */
export interface StreamCommand {
  argv: Buffer[];
  /** Exact bytes in the stream, header included: what the replication offset advances by. */
  bytes: number;
}

/** The stream is not RESP multibulk; `position` is the byte (from the parser's start) where it broke. */
export class StreamProtocolError extends Error {
  constructor(
    message: string,
    readonly position: number,
  ) {
    super(message);
    this.name = 'StreamProtocolError';
  }
}

const CR = 13;
const LF = 10;
/** `*<count>` and `$<length>` lines are short; a longer line means we lost the framing. */
const MAX_HEADER_LINE = 32;
/** Redis's own ceiling for one argument is proto-max-bulk-len (512 MB by default, settable higher). */
const DEFAULT_MAX_ARG_BYTES = 2 ** 32 - 1;

/**
 * Incremental parser of the command stream a master sends to its replicas: RESP arrays of bulk
 * strings (`*<n>\r\n` then n times `$<len>\r\n<bytes>\r\n`), including the master's PINGs and
 * `REPLCONF GETACK *`, which count in the replication offset like any command.
 *
 * Pull style: `push` chunks as they come, `next` returns complete commands one at a time, so a
 * consumer that stops pulling leaves the bytes unparsed. The parse state survives across chunks
 * (a command with a million arguments is never re-parsed from its start), and incoming chunks are
 * kept as a list: a large argument is joined once, when its last byte has arrived.
 *
 * Arguments are views into the received chunks when they lie inside one chunk (no copy): copy the
 * ones you keep for long.
 */
export class StreamParser {
  private chunks: Buffer[] = [];
  /** chunks[head] is the first with unread bytes (an index, not shift(): thousands of chunks can pile up under one big argument). */
  private head = 0;
  /** Read position inside chunks[head]. */
  private pos = 0;
  /** Unread bytes over all chunks. */
  private available = 0;
  /** Stream bytes consumed so far (for error positions). */
  private consumed = 0;
  // The command being parsed (argc 0: its `*` line is next).
  private argc = 0;
  private argv: Buffer[] = [];
  /** Length of the argument whose `$` line was read, or -1 when the next thing is a `$` line. */
  private bulk = -1;
  private bytes = 0;

  constructor(private readonly maxArgBytes = DEFAULT_MAX_ARG_BYTES) {}

  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.chunks.push(chunk);
    this.available += chunk.length;
  }

  /** True when no partial command is held (every byte pushed belongs to a returned command). */
  get idle(): boolean {
    return this.available === 0 && this.bytes === 0;
  }

  /** The next complete command, or undefined until more bytes are pushed. */
  next(): StreamCommand | undefined {
    while (this.argc <= 0) {
      // An empty array (n <= 0) is no command; like Redis, its bytes count with the next one.
      const n = this.header(42 /* * */);
      if (n === undefined) return undefined;
      this.argc = n;
    }
    while (this.argv.length < this.argc) {
      if (this.bulk < 0) {
        const n = this.header(36 /* $ */);
        if (n === undefined) return undefined;
        if (n < 0) throw this.error(`a null argument ($${n}) inside a command`);
        if (n > this.maxArgBytes) throw this.error(`an argument of ${n} bytes, over the limit of ${this.maxArgBytes}`);
        this.bulk = n;
      }
      // The argument's bytes and its CRLF, all at once: until then the chunks just pile up.
      if (this.available < this.bulk + 2) return undefined;
      const arg = this.take(this.bulk);
      const end = this.take(2);
      if (end[0] !== CR || end[1] !== LF) throw this.error('an argument not followed by CRLF', -2);
      this.bytes += this.bulk + 2;
      this.argv.push(arg);
      this.bulk = -1;
    }
    const command: StreamCommand = { argv: this.argv, bytes: this.bytes };
    this.argc = 0;
    this.argv = [];
    this.bytes = 0;
    return command;
  }

  /**
   * Reads a `*<n>` or `$<n>` line (marker byte `mark`) and returns n, or undefined if the line is
   * not complete yet (nothing is consumed then).
   */
  private header(mark: number): number | undefined {
    let length = -1;
    // Find the LF, looking across chunks; header lines are at most MAX_HEADER_LINE bytes.
    let seen = 0;
    for (let c = this.head; c < this.chunks.length && length < 0 && seen <= MAX_HEADER_LINE; c++) {
      const chunk = this.chunks[c];
      const from = c === this.head ? this.pos : 0;
      const stop = Math.min(chunk.length, from + MAX_HEADER_LINE + 1 - seen);
      const lf = chunk.indexOf(LF, from);
      if (lf >= 0 && lf < stop) length = seen + lf - from + 1;
      else seen += stop - from;
    }
    if (length < 0) {
      if (seen > MAX_HEADER_LINE) throw this.error(`no line end within ${MAX_HEADER_LINE} bytes of a header`);
      return undefined;
    }
    const line = this.take(length);
    this.bytes += length;
    if (line[0] !== mark) {
      const expected = mark === 42 ? "'*' (a command)" : "'$' (an argument)";
      throw this.error(`expected ${expected}, got ${describeByte(line[0])}`, -length);
    }
    if (length < 4 || line[length - 2] !== CR) throw this.error(`a malformed header line ${JSON.stringify(line.toString('latin1'))}`, -length);
    const text = line.toString('latin1', 1, length - 2);
    if (!/^-?\d{1,12}$/.test(text)) throw this.error(`a header line with a bad number ${JSON.stringify(line.toString('latin1'))}`, -length);
    return Number(text);
  }

  /** Consumes n buffered bytes: a view when they lie in one chunk, else one concatenation. */
  private take(n: number): Buffer {
    this.available -= n;
    this.consumed += n;
    const first = this.chunks[this.head];
    if (first.length - this.pos >= n) {
      const out = first.subarray(this.pos, this.pos + n);
      this.advance(n);
      return out;
    }
    const out = Buffer.allocUnsafe(n);
    let filled = 0;
    while (filled < n) {
      const chunk = this.chunks[this.head];
      const piece = Math.min(n - filled, chunk.length - this.pos);
      chunk.copy(out, filled, this.pos, this.pos + piece);
      filled += piece;
      this.advance(piece);
    }
    return out;
  }

  private advance(n: number): void {
    this.pos += n;
    if (this.pos < this.chunks[this.head].length) return;
    this.pos = 0;
    this.head++;
    if (this.head === this.chunks.length) {
      this.chunks = [];
      this.head = 0;
    } else if (this.head >= 1024) {
      this.chunks = this.chunks.slice(this.head);
      this.head = 0;
    }
  }

  private error(what: string, back = 0): StreamProtocolError {
    const at = this.consumed + back;
    return new StreamProtocolError(`replication stream: ${what} at byte ${at} of the stream`, at);
  }
}

function describeByte(b: number): string {
  return b >= 32 && b < 127 ? `'${String.fromCharCode(b)}'` : `byte 0x${b.toString(16).padStart(2, '0')}`;
}
