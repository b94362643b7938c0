import type { Duplex } from 'node:stream';

/**
 * Pull-based reading of a socket (or any Duplex, e.g. an SSH channel): bytes are taken from the
 * stream only when `read` is called, so a consumer that stops pulling stops the socket, and TCP
 * pushes back on the server. Bytes read too far can be put back with `unread`.
 *
 * While a `read` waits for data, a silence longer than `idleMs` ends the stream with the error
 * `onIdle` makes: a dead link is noticed only while we want data, never because the consumer is slow.
 */
export class SocketReader {
  private readonly pushedBack: Buffer[] = [];
  private ended = false;
  private failure: Error | null = null;
  private waiter: { resolve: (chunk: Buffer | null) => void; reject: (err: Error) => void } | null = null;
  private idleTimer: NodeJS.Timeout | null = null;

  constructor(
    private readonly stream: Duplex,
    private readonly idleMs: number,
    private readonly errors: {
      /** The error for a silence of idleMs. */
      idle(): Error;
      /** The error for a stream that ends, closes or fails (`cause`) while bytes are wanted. */
      end(cause?: Error): Error;
    },
  ) {
    stream.on('readable', () => this.wake());
    stream.on('end', () => {
      this.ended = true;
      this.wake();
    });
    stream.on('error', (err) => this.fail(errors.end(err)));
    stream.on('close', () => {
      // A close without 'end' (destroyed, reset): whoever waits learns it now.
      this.ended = true;
      this.wake();
    });
  }

  /** The next chunk of bytes, or null once the stream has ended cleanly. Throws if it failed. */
  read(): Promise<Buffer | null> {
    const back = this.pushedBack.pop();
    if (back) return Promise.resolve(back);
    const chunk = this.take();
    if (chunk) return Promise.resolve(chunk);
    if (this.failure) return Promise.reject(this.failure);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
      this.armIdle();
    });
  }

  /** Like read, but the end of the stream is an error (made by onEnd). */
  async readSome(): Promise<Buffer> {
    const chunk = await this.read();
    if (!chunk) throw this.errors.end();
    return chunk;
  }

  /** Puts bytes back in front of the stream (the next read returns them first). */
  unread(bytes: Buffer): void {
    if (bytes.length > 0) this.pushedBack.push(bytes);
  }

  /**
   * Reads one line ending in LF and returns it without its CR LF, as latin1 text. Used for the
   * handshake's replies and the RDB's bulk header, which are short; `maxBytes` guards the framing.
   */
  async readLine(maxBytes: number): Promise<string> {
    const parts: Buffer[] = [];
    let length = 0;
    for (;;) {
      const chunk = await this.readSome();
      const lf = chunk.indexOf(10);
      if (lf >= 0) {
        this.unread(chunk.subarray(lf + 1));
        parts.push(chunk.subarray(0, lf));
        let line = Buffer.concat(parts).toString('latin1');
        if (line.endsWith('\r')) line = line.slice(0, -1);
        return line;
      }
      parts.push(chunk);
      length += chunk.length;
      if (length > maxBytes) throw new Error(`no line end within ${maxBytes} bytes`);
    }
  }

  /** Ends the stream with this error: a pending read rejects with it. */
  fail(err: Error): void {
    if (!this.failure) this.failure = err;
    this.wake();
    this.stream.destroy();
  }

  private take(): Buffer | null {
    const chunk = this.stream.read() as Buffer | string | null;
    if (chunk === null) return null;
    return typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
  }

  private wake(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    if (this.failure) {
      this.settle();
      waiter.reject(this.failure);
      return;
    }
    const chunk = this.take();
    if (chunk) {
      this.settle();
      waiter.resolve(chunk);
    } else if (this.ended) {
      this.settle();
      waiter.resolve(null);
    }
  }

  private settle(): void {
    this.waiter = null;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.idleTimer = null;
  }

  private armIdle(): void {
    if (this.idleMs <= 0 || this.idleMs === Infinity) return;
    this.idleTimer = setTimeout(() => this.fail(this.errors.idle()), this.idleMs);
    this.idleTimer.unref?.();
  }
}
