import { ReplyError, type Reply } from './reply.js';

const CR = 13;

/**
 * Incremental RESP2 parser. Bytes arrive in chunks of any size; complete replies come out in order.
 * A reply that is still incomplete (a large bulk string) is not re-parsed on every chunk: the parser
 * remembers how many bytes it needs and waits for them, so a 256 MB value costs one concatenation.
 */
export class ReplyParser {
  private buf: Buffer = Buffer.alloc(0);
  private chunks: Buffer[] = [];
  private chunkBytes = 0;
  /** Bytes the buffer must hold before parsing is worth trying again. */
  private need = 0;
  private pos = 0;

  constructor(private readonly onReply: (reply: Reply) => void) {}

  push(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.chunkBytes += chunk.length;
    if (this.buf.length + this.chunkBytes < this.need) return;
    this.buf = this.buf.length === 0 && this.chunks.length === 1 ? chunk : Buffer.concat([this.buf, ...this.chunks]);
    this.chunks = [];
    this.chunkBytes = 0;
    this.need = 0;
    let start = 0;
    while (start < this.buf.length) {
      const reply = this.parse(start);
      if (reply === undefined) break;
      start = this.pos;
      this.onReply(reply);
    }
    this.buf = start >= this.buf.length ? Buffer.alloc(0) : this.buf.subarray(start);
    if (this.need) this.need -= start;
  }

  /** Parses one reply at `at`; sets `this.pos` past it, or returns undefined if it is incomplete. */
  private parse(at: number): Reply | undefined {
    const b = this.buf;
    const eol = b.indexOf(CR, at + 1);
    if (eol < 0 || eol + 1 >= b.length) return undefined;
    const kind = b[at];
    switch (kind) {
      case 36: {
        // $<len>\r\n<bytes>\r\n
        const len = readInt(b, at + 1, eol);
        if (len < 0) {
          this.pos = eol + 2;
          return null;
        }
        const end = eol + 2 + len;
        if (end + 2 > b.length) {
          this.need = end + 2;
          return undefined;
        }
        this.pos = end + 2;
        return b.subarray(eol + 2, end);
      }
      case 42: {
        const n = readInt(b, at + 1, eol);
        if (n < 0) {
          this.pos = eol + 2;
          return null;
        }
        const items: Reply[] = new Array(n);
        let p = eol + 2;
        for (let i = 0; i < n; i++) {
          if (p >= b.length) return undefined;
          const item = this.parse(p);
          if (item === undefined) return undefined;
          items[i] = item;
          p = this.pos;
        }
        this.pos = p;
        return items;
      }
      case 58:
        this.pos = eol + 2;
        return readInt(b, at + 1, eol);
      case 43:
        this.pos = eol + 2;
        return b.toString('latin1', at + 1, eol);
      case 45:
        this.pos = eol + 2;
        return new ReplyError(b.toString('utf8', at + 1, eol));
      default:
        throw new Error(`protocol error: unexpected byte 0x${kind.toString(16)} at the start of a reply`);
    }
  }
}

function readInt(b: Buffer, from: number, to: number): number {
  let i = from;
  let negative = false;
  if (b[i] === 45) {
    negative = true;
    i++;
  }
  let n = 0;
  for (; i < to; i++) n = n * 10 + (b[i] - 48);
  return negative ? -n : n;
}
