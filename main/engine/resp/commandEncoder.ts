/** One argument of a command: bytes as they are, text as UTF-8, numbers in decimal. */
export type Arg = Buffer | string | number;

/** Arguments at least this long are handed to the socket as they are instead of being copied. */
const LARGE_ARG = 64 * 1024;
const BLOCK = 256 * 1024;
/** Encoded forms of short text arguments (command names, options): most commands repeat them. */
const textCache = new Map<string, Buffer>();
const TEXT_CACHE_LIMIT = 512;

/**
 * Encodes commands as RESP arrays into a growing output buffer. Many small commands share one
 * buffer (one socket write per event-loop turn); large values are passed through without copying.
 * Hot path: ~4 arguments per key at >100,000 keys/s, so lengths are written digit by digit and
 * short byte strings are copied in a loop rather than through a native call each.
 */
export class CommandEncoder {
  private block = Buffer.allocUnsafe(BLOCK);
  private used = 0;
  private ready: Buffer[] = [];
  private readyBytes = 0;

  get pendingBytes(): number {
    return this.readyBytes + this.used;
  }

  encode(args: readonly Arg[]): void {
    this.header(42, args.length);
    for (const arg of args) {
      if (typeof arg === 'string') this.bytes(encodedText(arg));
      else if (typeof arg === 'number') this.number(arg);
      else this.bytes(arg);
    }
  }

  /** Everything encoded so far, in order; the encoder starts empty again. */
  take(): Buffer[] {
    this.cut();
    const out = this.ready;
    this.ready = [];
    this.readyBytes = 0;
    return out;
  }

  /** `$<len>\r\n<bytes>\r\n` */
  private bytes(arg: Buffer): void {
    const n = arg.length;
    this.header(36, n);
    if (n >= LARGE_ARG) {
      this.cut();
      this.ready.push(arg);
      this.readyBytes += n;
    } else {
      this.room(n + 2);
      const block = this.block;
      let at = this.used;
      if (n < 48) for (let i = 0; i < n; i++) block[at++] = arg[i];
      else {
        block.set(arg, at);
        at += n;
      }
      this.used = at;
    }
    this.room(2);
    this.block[this.used++] = 13;
    this.block[this.used++] = 10;
  }

  /** A number argument (TTLs, counts): its decimal digits as a bulk string, without a temporary Buffer. */
  private number(n: number): void {
    // String(n) is plain ASCII for every finite number (scores use their own formatting).
    const digits = String(n);
    this.header(36, digits.length);
    this.room(digits.length + 2);
    const block = this.block;
    let at = this.used;
    for (let i = 0; i < digits.length; i++) block[at++] = digits.charCodeAt(i);
    block[at++] = 13;
    block[at++] = 10;
    this.used = at;
  }

  /** `*<n>\r\n` or `$<n>\r\n`, digits written directly. */
  private header(kind: number, n: number): void {
    this.room(24);
    const block = this.block;
    let at = this.used;
    block[at++] = kind;
    if (n < 10) block[at++] = 48 + n;
    else {
      const digits = String(n);
      for (let i = 0; i < digits.length; i++) block[at++] = digits.charCodeAt(i);
    }
    block[at++] = 13;
    block[at++] = 10;
    this.used = at;
  }

  private room(n: number): void {
    if (this.used + n <= this.block.length) return;
    this.cut();
    if (n > this.block.length) this.block = Buffer.allocUnsafe(Math.max(n, BLOCK));
  }

  /** Moves the filled part of the block to the ready list; the rest of the block is reused. */
  private cut(): void {
    if (this.used === 0) return;
    this.ready.push(this.block.subarray(0, this.used));
    this.readyBytes += this.used;
    this.block = this.block.subarray(this.used);
    this.used = 0;
    if (this.block.length < 4096) this.block = Buffer.allocUnsafe(BLOCK);
  }
}

function encodedText(s: string): Buffer {
  let bytes = textCache.get(s);
  if (bytes) return bytes;
  bytes = Buffer.from(s, 'utf8');
  if (s.length <= 32 && textCache.size < TEXT_CACHE_LIMIT) textCache.set(s, bytes);
  return bytes;
}
