import net from 'node:net';
import tls from 'node:tls';
import { CommandEncoder, type Arg } from './commandEncoder.js';
import { ReplyParser } from './replyParser.js';
import { CONNECTION_LOST, ReplyError, type Reply } from './reply.js';

/**
 * Receives a command's reply. `context` is whatever the sender passed along with the command: the
 * copy loop passes its per-key state there instead of allocating a closure per command.
 */
export type ReplyCallback<C = never> = (reply: Reply, context: C) => void;

export interface ConnectOptions {
  host: string;
  port: number;
  /** TLS options; absent for plain TCP. */
  tls?: tls.ConnectionOptions;
  connectTimeoutMs?: number;
  /** Names the endpoint in error messages, e.g. `source idc-01 (10.0.0.11:6379)`. */
  label: string;
}

/** The connection itself failed: refused, reset, timed out, TLS. Names the endpoint. */
export class ConnectionError extends Error {
  constructor(
    message: string,
    readonly label: string,
  ) {
    super(message);
    this.name = 'ConnectionError';
  }
}

/**
 * One pipelined connection to one Redis server. Commands are queued and written once per
 * event-loop turn; replies are matched to callbacks in order. This lean client exists because the
 * data path sends ~3 commands per key at >150,000 keys/s, where a promise and an object per command
 * cost more than the work itself (measured: 50k keys/s through a general client, 200k through this).
 */
export class RedisConnection {
  private readonly encoder = new CommandEncoder();
  // Callbacks and their contexts, in the order the commands were sent (two arrays: no object per command).
  private readonly callbacks: Array<ReplyCallback<unknown>> = [];
  private readonly contexts: unknown[] = [];
  private head = 0;
  private flushScheduled = false;
  private closedError: Error | null = null;
  private readonly closeListeners: Array<(err: Error) => void> = [];

  private constructor(
    private readonly socket: net.Socket,
    readonly label: string,
  ) {
    const parser = new ReplyParser((reply) => this.deliver(reply));
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        this.fail(new ConnectionError(`${label}: ${(err as Error).message}`, label));
        socket.destroy();
      }
    });
    socket.on('error', (err) => this.fail(new ConnectionError(`${label}: connection lost (${err.message})`, label)));
    socket.on('close', () => this.fail(new ConnectionError(`${label}: connection closed`, label)));
  }

  static connect(opts: ConnectOptions): Promise<RedisConnection> {
    const timeoutMs = opts.connectTimeoutMs ?? 10_000;
    return new Promise((resolve, reject) => {
      const where = `${opts.host}:${opts.port}`;
      const socket = opts.tls
        ? tls.connect({ host: opts.host, port: opts.port, servername: net.isIP(opts.host) ? undefined : opts.host, ...opts.tls })
        : net.connect({ host: opts.host, port: opts.port });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new ConnectionError(`${opts.label}: no answer from ${where} within ${timeoutMs} ms; check the host, port and firewall`, opts.label));
      }, timeoutMs);
      const onError = (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new ConnectionError(`${opts.label}: cannot connect to ${where}: ${describeSocketError(err)}`, opts.label));
      };
      socket.once('error', onError);
      socket.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        socket.off('error', onError);
        socket.setNoDelay(true);
        socket.setKeepAlive(true, 15_000);
        resolve(new RedisConnection(socket, opts.label));
      });
    });
  }

  get closed(): boolean {
    return this.closedError !== null;
  }

  /** Commands sent whose replies have not arrived yet. */
  get inFlight(): number {
    return this.callbacks.length - this.head;
  }

  /** Queues a command; the callback gets the reply (an error reply is a ReplyError value) and `context`. */
  send<C>(args: readonly Arg[], callback: ReplyCallback<C>, context?: C): void {
    if (this.closedError) {
      const err = this.closedError;
      queueMicrotask(() => callback(new ReplyError(err.message, CONNECTION_LOST), context as C));
      return;
    }
    this.encoder.encode(args);
    this.callbacks.push(callback as ReplyCallback<unknown>);
    this.contexts.push(context);
    if (this.encoder.pendingBytes >= 1 << 20) this.flush();
    else if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(() => this.flush());
    }
  }

  /** Sends a command and resolves with its reply; an error reply rejects. */
  call(...args: Arg[]): Promise<Reply> {
    return new Promise((resolve, reject) => {
      this.send(args, (reply) => (reply instanceof ReplyError ? reject(reply) : resolve(reply)));
    });
  }

  /** Resolves once every command sent so far has its reply. */
  drain(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.send(['PING'], () => resolve()));
  }

  onClose(listener: (err: Error) => void): void {
    this.closeListeners.push(listener);
  }

  close(): void {
    if (this.closedError) return;
    this.flush();
    this.fail(new ConnectionError(`${this.label}: connection closed by Ferry`, this.label));
    this.socket.end();
    this.socket.destroy();
  }

  private flush(): void {
    this.flushScheduled = false;
    const parts = this.encoder.take();
    if (parts.length === 0 || this.closedError) return;
    if (parts.length === 1) this.socket.write(parts[0]);
    else {
      this.socket.cork();
      for (const part of parts) this.socket.write(part);
      this.socket.uncork();
    }
  }

  private deliver(reply: Reply): void {
    const callback = this.callbacks[this.head];
    const context = this.contexts[this.head];
    this.callbacks[this.head] = noop;
    this.contexts[this.head++] = undefined;
    // Compact the queue now and then instead of shifting on every reply.
    if (this.head > 4096 && this.head * 2 > this.callbacks.length) {
      this.callbacks.splice(0, this.head);
      this.contexts.splice(0, this.head);
      this.head = 0;
    }
    callback(reply, context);
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    const pending = this.callbacks.splice(this.head);
    const contexts = this.contexts.splice(this.head);
    this.callbacks.length = 0;
    this.contexts.length = 0;
    this.head = 0;
    const asReply = new ReplyError(err.message, CONNECTION_LOST);
    pending.forEach((callback, i) => callback(asReply, contexts[i]));
    for (const listener of this.closeListeners) listener(err);
  }
}

function noop(): void {}

function describeSocketError(err: NodeJS.ErrnoException): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused (is redis-server running there, and is the port right?)';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host name not found (check the host in the URL)';
    case 'ETIMEDOUT':
      return 'timed out (check the host, port and firewall)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'host unreachable (check the network or VPN)';
    default:
      return err.message;
  }
}
