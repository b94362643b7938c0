import net from 'node:net';
import tls from 'node:tls';
import type { Arg } from '../resp/commandEncoder.js';
import { ConnectionError, RedisConnection, type ReplyCallback } from '../resp/connection.js';
import { CONNECTION_LOST, ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import { keySlot, SLOTS } from '../keys/hashSlot.js';
import { EndpointError } from './endpointError.js';
import { parseRedisUrl, type RedisAddress } from './redisUrl.js';
import type { Route } from './route.js';
import { factsFromInfo, parseInfo, type ServerFacts } from './serverFacts.js';

export interface EndpointSpec {
  /** `source` or `target`: only used in messages. */
  role: 'source' | 'target';
  name: string;
  url: string;
  /** true: must be a cluster; false/undefined: detected. */
  cluster?: boolean;
  /** An SSH tunnel's local forwards (`via:`), or the staging copies standing in for the servers. */
  route?: Route;
  /**
   * A cluster as it was when staged: its masters and their slots, each served (through `route`) by a
   * standalone copy. The layout is taken as is instead of asking CLUSTER SLOTS.
   */
  frozenLayout?: ClusterNode[];
}

export interface ClusterNode {
  host: string;
  port: number;
  /** Inclusive slot ranges this master serves. */
  slots: Array<[number, number]>;
}

const MAX_REDIRECTS = 8;

/**
 * One Redis deployment (standalone server or cluster) as the engine uses it: connections per db or
 * per node, the server's facts, and routing of key commands to the server that holds the key.
 */
export class Endpoint {
  readonly label: string;
  /** Standalone: one connection per db, opened by `useDbs`. */
  private readonly dbConnections = new Map<number, RedisConnection>();
  /** Cluster: one connection per node address `host:port`. */
  private readonly nodeConnections = new Map<string, Promise<RedisConnection>>();
  private readonly openNodes = new Map<string, RedisConnection>();
  private readonly slotOwner: Array<RedisConnection | undefined> = new Array(SLOTS);
  private closed = false;
  /** Whether one of its connections dropped (closed by the network or server, not by Ferry). */
  get connectionLost(): boolean {
    return this.dialer.lost;
  }
  /** Server address `host:port` -> the local address that reaches it (through a tunnel). */
  private readonly localAddresses: Map<string, { host: string; port: number }>;
  /** Target clock minus local clock, in ms (for absolute TTLs written with ABSTTL). */
  clockOffsetMs = 0;
  masters: ClusterNode[] = [];

  private constructor(
    readonly spec: EndpointSpec,
    readonly address: RedisAddress,
    readonly facts: ServerFacts,
    private readonly control: RedisConnection,
    private readonly dialer: Dialer,
  ) {
    this.label = describe(spec, address);
    this.localAddresses = dialer.reached;
  }

  /** Where Ferry connects to reach server `host:port`: a tunnel's local forward, or the address itself. */
  localAddressOf(host: string, port: number): { host: string; port: number } {
    return this.localAddresses.get(`${host}:${port}`) ?? { host, port };
  }

  get isCluster(): boolean {
    return this.facts.clusterEnabled;
  }

  static async open(spec: EndpointSpec): Promise<Endpoint> {
    let address: RedisAddress;
    try {
      address = parseRedisUrl(spec.url);
    } catch (err) {
      throw new EndpointError(`${spec.role} ${spec.name}`, `${spec.role} ${spec.name}: bad URL: ${(err as Error).message}`);
    }
    const label = describe(spec, address);
    const dialer = new Dialer(label, address, spec.route);
    const layout = spec.frozenLayout;
    // The control connection stays on db 0 until we know the server is not a cluster.
    const control = layout ? await dialer.connect(layout[0].host, layout[0].port, 0) : await dialer.connect(address.host, address.port, 0);
    try {
      const info = parseInfo(replyText(await call(control, label, ['INFO'])));
      const facts = factsFromInfo(info);
      if (layout) {
        const endpoint = new Endpoint(spec, address, { ...facts, clusterEnabled: true }, control, dialer);
        await endpoint.useLayout(layout);
        return endpoint;
      }
      if (spec.cluster === true && !facts.clusterEnabled) {
        throw new EndpointError(label, `${label}: the job says cluster: true, but this server is not in cluster mode (cluster_enabled:0); remove "cluster: true" or point the URL at a cluster node`);
      }
      if (facts.clusterEnabled && address.db !== 0) {
        throw new EndpointError(label, `${label}: a cluster has only db 0, but the URL selects db ${address.db}; remove the /${address.db} from the URL`);
      }
      const endpoint = new Endpoint(spec, address, facts, control, dialer);
      await endpoint.measureClock();
      if (facts.clusterEnabled) await endpoint.loadClusterSlots();
      else {
        if (address.db !== 0) await call(control, label, ['SELECT', address.db]);
        endpoint.dbConnections.set(address.db, control);
      }
      return endpoint;
    } catch (err) {
      control.close();
      throw err;
    }
  }

  /** Opens a connection per db (standalone) so `send` can address them. */
  async useDbs(dbs: Iterable<number>): Promise<void> {
    for (const db of dbs) {
      if (this.isCluster) {
        if (db !== 0) throw new EndpointError(this.label, `${this.label}: a cluster has only db 0, but db ${db} is needed; map it to 0 with options.dbs (e.g. dbs: { "${db}": 0 })`);
        continue;
      }
      if (!this.dbConnections.has(db)) {
        this.dbConnections.set(db, await this.dialer.connect(this.address.host, this.address.port, db));
      }
    }
  }

  /** A connection for commands that are not about one key (SCAN, INFO) on a standalone db. */
  dbConnection(db: number): RedisConnection {
    const conn = this.dbConnections.get(db);
    if (!conn) throw new Error(`${this.label}: db ${db} was not opened (useDbs)`);
    return conn;
  }

  /** A connection to one cluster node (opened on first use). */
  nodeConnection(host: string, port: number): Promise<RedisConnection> {
    const key = `${host}:${port}`;
    let pending = this.nodeConnections.get(key);
    if (!pending) {
      pending = this.dialer.connect(host, port, 0).then((conn) => {
        this.openNodes.set(key, conn);
        return conn;
      });
      this.nodeConnections.set(key, pending);
      pending.catch(() => this.nodeConnections.delete(key));
    }
    return pending;
  }

  /**
   * Sends a command about `key` to the server that holds it, following MOVED and ASK redirects.
   * `context` reaches the callback untouched (see RedisConnection.send).
   */
  send<C>(db: number, key: Buffer, args: readonly Arg[], callback: ReplyCallback<C>, context?: C): void {
    if (!this.isCluster) {
      this.dbConnection(db).send(args, callback, context);
      return;
    }
    const slot = keySlot(key);
    const owner = this.slotOwner[slot];
    if (!owner) {
      callback(new ReplyError(`CLUSTERDOWN ${this.label}: no node serves slot ${slot}`), context as C);
      return;
    }
    const routed: Routed<C> = { endpoint: this, slot, args, callback, context: context as C, hops: 0 };
    owner.send(args, onRoutedReply, routed);
  }

  call(db: number, key: Buffer, ...args: Arg[]): Promise<Reply> {
    return new Promise((resolve, reject) =>
      this.send(db, key, args, (reply: Reply) => (reply instanceof ReplyError ? reject(reply) : resolve(reply))),
    );
  }

  /** Waits until every connection has answered everything sent so far. */
  async drain(): Promise<void> {
    const conns = this.isCluster ? [...this.openNodes.values()] : [...this.dbConnections.values()];
    await Promise.all(conns.map((c) => c.drain()));
  }

  /** Commands sent and not answered yet, over all connections. */
  get inFlight(): number {
    let n = 0;
    for (const c of this.isCluster ? this.openNodes.values() : this.dbConnections.values()) n += c.inFlight;
    return n;
  }

  /** A control command (INFO, TIME, CONFIG…) on the URL's own server. */
  command(...args: Arg[]): Promise<Reply> {
    return call(this.control, this.label, args);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.dialer.closing = true;
    this.control.close();
    for (const c of this.dbConnections.values()) c.close();
    for (const c of this.openNodes.values()) c.close();
  }

  /** A reply to a routed command: MOVED / ASK / TRYAGAIN are followed, anything else is delivered. */
  followRedirect<C>(reply: Reply, routed: Routed<C>): void {
    const deliver = () => routed.callback(reply, routed.context);
    if (!(reply instanceof ReplyError) || routed.hops >= MAX_REDIRECTS) return deliver();
    const code = reply.code;
    if (code !== 'MOVED' && code !== 'ASK' && code !== 'TRYAGAIN') return deliver();
    routed.hops++;
    if (code === 'TRYAGAIN') {
      // A multi-key operation met a slot in migration: try again shortly.
      setTimeout(() => {
        const owner = this.slotOwner[routed.slot];
        if (!owner) return deliver();
        owner.send(routed.args, onRoutedReply, routed);
      }, 50);
      return;
    }
    const [, , where] = reply.message.split(' ');
    const colon = where.lastIndexOf(':');
    const host = where.slice(0, colon) || this.address.host;
    const port = Number(where.slice(colon + 1));
    this.nodeConnection(host, port).then(
      (conn) => {
        if (code === 'MOVED') this.slotOwner[routed.slot] = conn;
        else conn.send(['ASKING'], noop);
        conn.send(routed.args, onRoutedReply, routed);
      },
      (err: Error) => routed.callback(new ReplyError(`ERR ${err.message}`), routed.context),
    );
  }

  private async measureClock(): Promise<void> {
    const before = Date.now();
    const reply = replyArray(await this.command('TIME').catch(() => null));
    const after = Date.now();
    if (!reply) return;
    const serverMs = Number(replyText(reply[0])) * 1000 + Math.floor(Number(replyText(reply[1])) / 1000);
    const offset = serverMs - (before + after) / 2;
    // Within the round trip's uncertainty (and TIME's rounding to the ms) the clocks agree: 0, so a
    // same-host or NTP-synced pair does not shift absolute TTLs by noise.
    this.clockOffsetMs = Math.abs(offset) <= (after - before) / 2 + 1 ? 0 : Math.round(offset);
  }

  private async useLayout(layout: ClusterNode[]): Promise<void> {
    this.masters = layout;
    for (const node of layout) {
      const conn = await this.nodeConnection(node.host, node.port);
      for (const [from, to] of node.slots) for (let s = from; s <= to; s++) this.slotOwner[s] = conn;
    }
  }

  private async loadClusterSlots(): Promise<void> {
    const ranges = replyArray(await this.command('CLUSTER', 'SLOTS'));
    const byAddress = new Map<string, ClusterNode>();
    for (const range of ranges) {
      const [from, to, master] = replyArray(range);
      const [hostReply, portReply] = replyArray(master);
      // An empty host means "the address you reached me at".
      const host = replyText(hostReply) || this.address.host;
      const port = Number(portReply);
      const key = `${host}:${port}`;
      let node = byAddress.get(key);
      if (!node) byAddress.set(key, (node = { host, port, slots: [] }));
      node.slots.push([Number(from), Number(to)]);
    }
    const masters = [...byAddress.values()];
    if (masters.length === 0) throw new EndpointError(this.label, `${this.label}: the cluster serves no slots yet; finish its set-up (redis-cli --cluster create) first`);
    await this.useLayout(masters);
  }
}

/** A command routed by slot, carried as the connection's callback context until its final reply. */
interface Routed<C> {
  endpoint: Endpoint;
  slot: number;
  args: readonly Arg[];
  callback: ReplyCallback<C>;
  context: C;
  hops: number;
}

function onRoutedReply<C>(reply: Reply, routed: Routed<C>): void {
  routed.endpoint.followRedirect(reply, routed);
}

function noop(): void {}

function describe(spec: EndpointSpec, address: RedisAddress): string {
  const host = address.host.includes(':') ? `[${address.host}]` : address.host;
  const via = spec.route ? ` via ${spec.route.via}` : '';
  return spec.role === 'target' ? `target (${host}:${address.port}${via})` : `source ${spec.name} (${host}:${address.port}${via})`;
}

/**
 * Opens connections to an endpoint's servers, through its route when it has one. Behind a tunnel
 * the socket goes to a local forward, while TLS still checks the certificate against the real host.
 */
class Dialer {
  readonly reached = new Map<string, { host: string; port: number }>();
  /** Set by Endpoint.close, so its own closing is not taken for a lost connection. */
  closing = false;
  lost = false;

  /** Connects, and notes when the connection drops later. */
  async connect(host: string, port: number, db: number): Promise<RedisConnection> {
    const conn = await this.open(host, port, db);
    conn.onClose(() => {
      if (!this.closing) this.lost = true;
    });
    return conn;
  }

  constructor(
    private readonly label: string,
    private readonly address: RedisAddress,
    private readonly route: Route | undefined,
  ) {}

  private async open(host: string, port: number, db: number): Promise<RedisConnection> {
    if (!this.route) return connectTo(this.label, this.address, this.address.tls, host, port, db);
    let local: { host: string; port: number };
    try {
      local = await this.route.reach(host, port);
    } catch (err) {
      throw new EndpointError(this.label, `${this.label}: ${(err as Error).message}`);
    }
    this.reached.set(`${host}:${port}`, local);
    return connectTo(this.label, this.address, this.address.tls && tlsForRealHost(this.address.tls, host), local.host, local.port, db);
  }
}

/** TLS options that check the certificate (and send SNI) for the real host, not 127.0.0.1. */
export function tlsForRealHost(options: tls.ConnectionOptions, host: string): tls.ConnectionOptions {
  if (options.servername) return options;
  return {
    ...options,
    ...(net.isIP(host) ? {} : { servername: host }),
    checkServerIdentity: (_name, cert) => tls.checkServerIdentity(host, cert),
  };
}

async function call(conn: RedisConnection, label: string, args: readonly Arg[]): Promise<Reply> {
  try {
    return await conn.call(...args);
  } catch (err) {
    throw explainReplyError(label, args, err);
  }
}

/** Turns a server's refusal into a message that names the endpoint, the command and the fix. */
export function explainReplyError(label: string, args: readonly Arg[], err: unknown): Error {
  if (!(err instanceof ReplyError)) return err instanceof Error ? err : new Error(String(err));
  // The connection itself went away: not the server's answer (a run may reconnect and go on).
  if (err.code === CONNECTION_LOST) return new ConnectionError(err.message.startsWith(label) ? err.message : `${label}: ${err.message}`, label);
  const command = String(args[0]).toUpperCase();
  const msg = err.message;
  if (err.code === 'NOAUTH') return new EndpointError(label, `${label}: the server requires a password; put it in the URL (redis://:PASSWORD@host:port, or redis://${'${env:NAME}'} style)`);
  if (err.code === 'WRONGPASS' || /invalid (username-password|password)/i.test(msg)) return new EndpointError(label, `${label}: authentication failed (${msg.split(' ')[0]}); check the user and password in the URL`);
  if (err.code === 'NOPERM') return new EndpointError(label, `${label}: the user may not run ${command} (${msg}); grant it in the ACL or use another user`);
  if (/unknown command/i.test(msg)) return new EndpointError(label, `${label}: the server refuses ${command} (${msg}); the provider may have renamed or disabled it`);
  return new EndpointError(label, `${label}: ${command} failed: ${msg}`);
}

async function connectTo(label: string, address: RedisAddress, tlsOptions: tls.ConnectionOptions | undefined, host: string, port: number, db: number): Promise<RedisConnection> {
  let conn: RedisConnection;
  try {
    conn = await RedisConnection.connect({ host, port, tls: tlsOptions, label });
  } catch (err) {
    if (err instanceof ConnectionError) throw new EndpointError(label, err.message);
    throw err;
  }
  // Each step names its own command when it fails (AUTH, SELECT…).
  let step: Arg[] = ['AUTH'];
  try {
    if (address.password !== undefined || address.username !== undefined) {
      step = address.username ? ['AUTH', address.username, address.password ?? ''] : ['AUTH', address.password ?? ''];
      try {
        await conn.call(...step);
      } catch (err) {
        // A password given to a server that needs none is harmless: carry on.
        if (!(err instanceof ReplyError && /without any password configured/i.test(err.message))) throw err;
      }
    }
    await conn.call('CLIENT', 'SETNAME', 'ferry').catch(() => undefined);
    step = db !== 0 ? ['SELECT', db] : ['PING'];
    await conn.call(...step);
    return conn;
  } catch (err) {
    conn.close();
    throw explainReplyError(label, step.slice(0, 1), err);
  }
}
