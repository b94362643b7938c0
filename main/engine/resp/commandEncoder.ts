/** One argument of a command: bytes as they are, text as UTF-8, numbers in decimal. */
export type Arg = Buffer | string | number;

/** Arguments at least this long are handed to the socket as they are instead of being copied. */
const LARGE_ARG = 64 * 1024;

/**
 * Encodes commands as RESP arrays into a growing output buffer. Many small commands share one
 * buffer (one socket write per event-loop turn); large values are passed through without copying.
 */
export class CommandEncoder {
  private block = Buffer.allocUnsafe(256 * 1024);
  private used = 0;
  private ready: Buffer[] = [];
  private readyBytes = 0;

  get pendingBytes(): number {
    return this.readyBytes + this.used;
  }

  encode(args: readonly Arg[]): void {
    this.text(`*${args.length}\r\n`);
    for (const arg of args) {
      if (Buffer.isBuffer(arg)) {
        this.text(`$${arg.length}\r\n`);
        if (arg.length >= LARGE_ARG) {
          this.cut();
          this.ready.push(arg);
          this.readyBytes += arg.length;
        } else {
          this.room(arg.length);
          arg.copy(this.block, this.used);
          this.used += arg.length;
        }
        this.text('\r\n');
      } else {
        const s = typeof arg === 'number' ? String(arg) : arg;
        this.text(`$${Buffer.byteLength(s)}\r\n`);
        this.text(s, 'utf8');
        this.text('\r\n');
      }
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

  private text(s: string, encoding: 'latin1' | 'utf8' = 'latin1'): void {
    const max = encoding === 'latin1' ? s.length : Buffer.byteLength(s);
    this.room(max);
    this.used += this.block.write(s, this.used, encoding);
  }

  private room(n: number): void {
    if (this.used + n <= this.block.length) return;
    this.cut();
    if (n > this.block.length) this.block = Buffer.allocUnsafe(Math.max(n, 256 * 1024));
  }

  /** Moves the filled part of the block to the ready list; the rest of the block is reused. */
  private cut(): void {
    if (this.used === 0) return;
    this.ready.push(this.block.subarray(0, this.used));
    this.readyBytes += this.used;
    this.block = this.block.subarray(this.used);
    this.used = 0;
    if (this.block.length < 4096) this.block = Buffer.allocUnsafe(256 * 1024);
  }
}
