import net from 'node:net';
import tls from 'node:tls';
import type { Endpoint } from '../endpoints/endpoint.js';
import { keySlot } from '../keys/hashSlot.js';
import { CommandEncoder, type Arg } from '../resp/commandEncoder.js';
import { ReplyParser } from '../resp/replyParser.js';
import { ReplyError, type Reply } from '../resp/reply.js';

const CONNECT_TIMEOUT_MS = 10_000;

/** The streamed SET's own connection failed (refused, closed by the server, reset): another way may still work. */
export class StreamedSetLost extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StreamedSetLost';
  }
}

/**
 * One `SET key <value> PX ms` whose value goes onto a connection of its own a window at a time, so
 * the value is never whole in Ferry's memory and no command ever blocks the target long.
 *
 * Why this works (Redis ≥ 2.6; read in networking.c, measured on 7.0): for a bulk argument of 32 KB
 * or more the server sizes its query buffer to the announced length up front (address space only, no
 * page touched), reads what has arrived on each event into it, and then hands that buffer to SET as
 * the value itself, without a copy. Each read event costs about what arrived since the last one (one
 * window, as the next window is read from the source in between), and SET itself is O(1). The key
 * exists only once the whole value is there, already with its safety TTL (PX); a dropped connection
 * leaves nothing behind. Nothing else may be pipelined behind the SET on this connection: data
 * following the value in the query buffer would make the server copy the value.
 */
export class StreamedSet {
  private readonly waiting: Array<{ resolve: (reply: Reply) => void; reject: (err: Error) => void }> = [];
  private failed: Error | null = null;
  private remaining = -1;
  private reply: Promise<Reply> | null = null;
  /** An error the server answered before the value was complete (a refused length, say): it closes the connection after it. */
  private early: ReplyError | null = null;

  private constructor(
    private readonly socket: net.Socket,
    readonly label: string,
  ) {
    const parser = new ReplyParser((reply) => {
      if (reply instanceof ReplyError && this.remaining > 0) this.early = reply;
      this.waiting.shift()?.resolve(reply);
    });
    socket.on('data', (chunk: Buffer) => {
      try {
        parser.push(chunk);
      } catch (err) {
        this.fail(`bad reply (${(err as Error).message})`);
      }
    });
    socket.on('error', (err) => this.fail(`connection lost (${err.message})`));
    socket.on('close', () => this.fail('connection closed by the server'));
  }

  /** Opens a connection to the server that holds `key` (its cluster node), authenticated, on `db`. */
  static async open(endpoint: Endpoint, db: number, key: Buffer): Promise<StreamedSet> {
    const { host, port } = serverFor(endpoint, key);
    const label = `${endpoint.label}, streamed SET via ${host}:${port}`;
    const address = endpoint.address;
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = address.tls
        ? tls.connect({ host, port, servername: net.isIP(host) ? undefined : host, ...address.tls })
        : net.connect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new StreamedSetLost(`${label}: no answer within ${CONNECT_TIMEOUT_MS} ms`));
      }, CONNECT_TIMEOUT_MS);
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new StreamedSetLost(`${label}: cannot connect (${err.message})`));
      });
      s.once(address.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        s.setNoDelay(true);
        resolve(s);
      });
    });
    const conn = new StreamedSet(socket, label);
    try {
      if (address.password !== undefined || address.username !== undefined) {
        await conn.call(address.username ? ['AUTH', address.username, address.password ?? ''] : ['AUTH', address.password ?? '']).catch((err) => {
          if (!(err instanceof ReplyError && /without any password configured/i.test(err.message))) throw err;
        });
      }
      await conn.call(['CLIENT', 'SETNAME', 'ferry-bigkey']).catch(() => undefined);
      if (!endpoint.isCluster && db !== 0) await conn.call(['SELECT', db]);
      return conn;
    } catch (err) {
      conn.destroy();
      throw err;
    }
  }

  /** Starts `SET key <length bytes> PX …`: the value follows with `write`, the PX with `finish`. */
  begin(key: Buffer, length: number): void {
    this.check();
    this.remaining = length;
    this.reply = this.expectReply();
    this.reply.catch(() => undefined);
    this.socket.write(Buffer.concat([Buffer.from(`*5\r\n$3\r\nSET\r\n$${key.length}\r\n`), key, Buffer.from(`\r\n$${length}\r\n`)]));
  }

  /** The next bytes of the value; resolves once the socket takes more (back-pressure). */
  async write(chunk: Buffer): Promise<void> {
    this.check();
    if (chunk.length > this.remaining) throw new Error(`${this.label}: ${chunk.length} bytes written where ${this.remaining} remained`);
    this.remaining -= chunk.length;
    if (this.socket.write(chunk)) return;
    await new Promise<void>((resolve, reject) => {
      const done = () => {
        this.socket.off('drain', done);
        this.socket.off('close', done);
        if (this.early || this.failed) reject(this.early ?? this.failed);
        else resolve();
      };
      this.socket.on('drain', done);
      this.socket.on('close', done);
    });
  }

  /** Ends the value and the command, waits for the server's OK, and closes the connection. */
  async finish(pxMs: number): Promise<void> {
    this.check();
    if (this.remaining !== 0 || !this.reply) throw new Error(`${this.label}: finished with ${this.remaining} bytes missing`);
    const px = String(pxMs);
    this.socket.write(`\r\n$2\r\nPX\r\n$${px.length}\r\n${px}\r\n`);
    try {
      const reply = await this.reply;
      // A cluster slot that moved meanwhile: the shared, redirect-following connections can still do it.
      if (reply instanceof ReplyError && ['MOVED', 'ASK', 'TRYAGAIN', 'CLUSTERDOWN'].includes(reply.code)) throw new StreamedSetLost(`${this.label}: ${reply.message}`);
      if (reply instanceof ReplyError) throw reply;
    } finally {
      this.destroy();
    }
  }

  /** Drops the connection: the server discards the half-received value, and no key appears. */
  destroy(): void {
    this.fail('closed by Ferry');
    this.socket.destroy();
  }

  private call(args: readonly Arg[]): Promise<Reply> {
    this.check();
    const encoder = new CommandEncoder();
    encoder.encode(args);
    const reply = this.expectReply();
    for (const part of encoder.take()) this.socket.write(part);
    return reply.then((r) => {
      if (r instanceof ReplyError) throw r;
      return r;
    });
  }

  private expectReply(): Promise<Reply> {
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private check(): void {
    if (this.early) throw this.early;
    if (this.failed) throw this.failed;
  }

  private fail(why: string): void {
    if (this.failed) return;
    this.failed = new StreamedSetLost(`${this.label}: ${why}`);
    for (const w of this.waiting.splice(0)) w.reject(this.failed);
  }
}

/** The address of the server holding `key`: the endpoint's own, or the cluster master serving its slot. */
function serverFor(endpoint: Endpoint, key: Buffer): { host: string; port: number } {
  if (!endpoint.isCluster) return { host: endpoint.address.host, port: endpoint.address.port };
  const slot = keySlot(key);
  const node = endpoint.masters.find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to));
  if (!node) throw new StreamedSetLost(`${endpoint.label}: no node serves slot ${slot}`);
  return { host: node.host, port: node.port };
}
