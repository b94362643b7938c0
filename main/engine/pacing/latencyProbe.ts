import type tls from 'node:tls';
import { Worker } from 'node:worker_threads';
import type { EngineEventOf, LatencySummary } from '../../../shared/events.js';
import { tlsForRealHost, type Endpoint } from '../endpoints/endpoint.js';
import { RedisConnection } from '../resp/connection.js';
import { ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import type { LatencyGuard } from './latencyGuard.js';

export type LatencyEvent = EngineEventOf<'latency'>;

/** One server to probe: an endpoint's own address, or one master of a cluster endpoint. */
export interface ProbeNode {
  host: string;
  port: number;
  /** Where to connect instead (a tunnel's local forward); TLS still checks `host`. */
  dial?: { host: string; port: number };
  tls?: tls.ConnectionOptions;
  username?: string;
  password?: string;
}

/** One second of one node. */
export interface LatencySecond {
  /** Wall clock (ms) at the end of the window. */
  at: number;
  /** PINGs answered in the window. */
  calls: number;
  avgMs: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** The worst stall the server itself recorded in the window (LATENCY LATEST); null where it cannot tell. */
  serverMaxMs: number | null;
}

/** The nodes to probe for an endpoint: its own address, or every master of a cluster. */
export function probeNodesOf(endpoint: Endpoint): ProbeNode[] {
  const { address } = endpoint;
  const auth = { username: address.username, password: address.password };
  // Behind a tunnel the probe goes through the same local forward (`dial`); names stay the real ones.
  const node = (host: string, port: number): ProbeNode => {
    const local = endpoint.localAddressOf(host, port);
    const behindTunnel = local.host !== host || local.port !== port;
    return { host, port, ...auth, tls: address.tls, ...(behindTunnel && { dial: local }) };
  };
  if (endpoint.isCluster && endpoint.masters.length > 0) return endpoint.masters.map((m) => node(m.host, m.port));
  return [node(address.host, address.port)];
}

export function nodeName(node: { host: string; port: number }): string {
  return `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`;
}

/**
 * The PING loops, run in a worker thread so that Ferry's own busy event loop (the copy) cannot
 * delay them: a late timer or a late 'data' callback on the main thread would look like server
 * latency. One thread hosts the loops of every node the process probes (measured: a thread per
 * node costs ~10 MB and ~4 % of a core each, 380 MB for 40 nodes). Plain JavaScript run with
 * `eval: true` rather than a module file: it then works the same from the CLI bundle, from vitest
 * and from the Electron build, none of which has to know about a second entry point. It needs no
 * RESP parser: AUTH / CLIENT SETNAME / PING all answer one line (`+OK`, `-ERR …`, `+PONG`).
 *
 * One PING at a time per node: the next goes only after the reply, on a fixed grid of
 * `intervalMs` (a late timer does not lower the rate; after a stall there is no catch-up burst).
 * Every `windowMs` a loop posts its window's figures; a PING still unanswered at the end of a
 * window counts with its age so far, so a server blocked for seconds shows up in each of those
 * seconds, not only at the end.
 *
 * Messages in: {type:'add', id, cfg}, {type:'remove', id}, {type:'exit'}. Out (each with `id`):
 * 'ready', 'down', 'fatal', 'second', and 'removed' once a removed loop's socket is closed.
 */
const PROBE_WORKER_SOURCE = String.raw`
'use strict';
const { parentPort } = require('node:worker_threads');
const net = require('node:net');
const tls = require('node:tls');

const PING = Buffer.from('*1\r\n$4\r\nPING\r\n', 'latin1');
const loops = new Map();

function encode(args) {
  const parts = [Buffer.from('*' + args.length + '\r\n', 'latin1')];
  for (const arg of args) {
    const bytes = Buffer.from(String(arg), 'utf8');
    parts.push(Buffer.from('$' + bytes.length + '\r\n', 'latin1'), bytes, Buffer.from('\r\n', 'latin1'));
  }
  return Buffer.concat(parts);
}

const round = (ms) => Math.round(ms * 1000) / 1000;

function createLoop(id, cfg) {
  let socket = null;
  let stopped = false;
  let phase = 'connecting';
  let helloLeft = 0;
  let authPending = false;
  let skipLines = 0;
  let text = '';
  let sentAt = -1;
  let nextDue = 0;
  let pingTimer = null;
  let retryTimer = null;
  let samples = [];
  let lastProblem = '';
  const post = (message) => parentPort.postMessage(Object.assign({ id }, message));

  function tlsOptions() {
    const options = Object.assign({}, cfg.tls);
    for (const name of ['ca', 'cert', 'key', 'pfx']) {
      const v = options[name];
      if (v instanceof Uint8Array) options[name] = Buffer.from(v);
      else if (Array.isArray(v)) options[name] = v.map((x) => (x instanceof Uint8Array ? Buffer.from(x) : x));
    }
    // Behind a tunnel the socket goes to the local forward, but the certificate is the real host's.
    const check = cfg.dialHost ? { checkServerIdentity: (_name, cert) => tls.checkServerIdentity(cfg.host, cert) } : {};
    return Object.assign({ host: cfg.dialHost || cfg.host, port: cfg.dialPort || cfg.port, servername: net.isIP(cfg.host) ? undefined : cfg.host }, check, options);
  }

  function connect() {
    retryTimer = null;
    if (stopped) return;
    const s = cfg.tls ? tls.connect(tlsOptions()) : net.connect({ host: cfg.dialHost || cfg.host, port: cfg.dialPort || cfg.port });
    socket = s;
    phase = 'connecting';
    text = '';
    sentAt = -1;
    skipLines = 0;
    const connectTimer = setTimeout(() => {
      lastProblem = 'no answer within 5 s';
      s.destroy();
    }, 5000);
    s.once(cfg.tls ? 'secureConnect' : 'connect', () => {
      clearTimeout(connectTimer);
      s.setNoDelay(true);
      const hello = [];
      authPending = cfg.password !== undefined || cfg.username !== undefined;
      if (authPending) hello.push(cfg.username ? ['AUTH', cfg.username, cfg.password || ''] : ['AUTH', cfg.password || '']);
      hello.push(['CLIENT', 'SETNAME', 'ferry-latency-probe']);
      helloLeft = hello.length;
      phase = 'hello';
      s.write(Buffer.concat(hello.map(encode)));
    });
    s.on('data', onData);
    s.on('error', (err) => {
      lastProblem = err.message;
    });
    s.on('close', () => {
      clearTimeout(connectTimer);
      if (socket !== s) return;
      socket = null;
      clearTimeout(pingTimer);
      pingTimer = null;
      sentAt = -1;
      if (stopped) return;
      post({ type: 'down', message: lastProblem || 'connection closed' });
      lastProblem = '';
      retryTimer = setTimeout(connect, 1000);
    });
  }

  function onData(chunk) {
    const now = performance.now();
    text += chunk.toString('latin1');
    let eol;
    while ((eol = text.indexOf('\r\n')) >= 0) {
      const line = text.slice(0, eol);
      text = text.slice(eol + 2);
      if (skipLines > 0) {
        skipLines--;
        continue;
      }
      // A bulk reply (a proxy answering PING with $4 PONG): its body line is not a reply of its own.
      if (line[0] === '$' && Number(line.slice(1)) >= 0) skipLines = 1;
      if (phase === 'hello') {
        const isAuth = authPending;
        authPending = false;
        if (isAuth && line[0] === '-' && !/without any password configured/i.test(line)) {
          post({ type: 'fatal', message: 'AUTH refused: ' + line.slice(1) + '; check the user and password in the URL' });
          shutdown();
          return;
        }
        if (--helloLeft === 0) {
          phase = 'ping';
          post({ type: 'ready' });
          nextDue = performance.now();
          sendPing();
        }
        continue;
      }
      if (sentAt < 0) continue;
      // An error reply (-LOADING, -BUSY) is still a round trip: the server answered that late.
      samples.push(now - sentAt);
      sentAt = -1;
      schedule();
    }
  }

  function schedule() {
    if (stopped || !socket) return;
    const now = performance.now();
    nextDue += cfg.intervalMs;
    if (nextDue < now - cfg.intervalMs) nextDue = now;
    const wait = nextDue - now;
    if (wait <= 0.25) sendPing();
    else pingTimer = setTimeout(sendPing, wait);
  }

  function sendPing() {
    pingTimer = null;
    if (stopped || !socket) return;
    sentAt = performance.now();
    socket.write(PING);
  }

  function report() {
    const now = performance.now();
    const calls = samples.length;
    const values = Float64Array.from(samples);
    samples = [];
    values.sort();
    let max = calls > 0 ? values[calls - 1] : 0;
    const pending = sentAt >= 0 ? now - sentAt : 0;
    let all = values;
    if (pending >= cfg.intervalMs && pending > max) {
      all = new Float64Array(calls + 1);
      all.set(values);
      all[calls] = pending;
      max = pending;
    }
    const n = all.length;
    if (n === 0) return;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += all[i];
    const rank = (q) => all[Math.max(0, Math.ceil(q * n) - 1)];
    post({ type: 'second', at: Date.now(), calls, avgMs: round(sum / n), p50Ms: round(rank(0.5)), p99Ms: round(rank(0.99)), maxMs: round(max) });
  }

  const windowTimer = setInterval(report, cfg.windowMs);

  function shutdown() {
    if (stopped) return;
    stopped = true;
    clearInterval(windowTimer);
    clearTimeout(pingTimer);
    clearTimeout(retryTimer);
    if (socket) socket.destroy();
    socket = null;
  }

  connect();
  return { shutdown };
}

parentPort.on('message', (m) => {
  if (m.type === 'add') loops.set(m.id, createLoop(m.id, m.cfg));
  else if (m.type === 'remove') {
    const loop = loops.get(m.id);
    loops.delete(m.id);
    if (loop) loop.shutdown();
    parentPort.postMessage({ id: m.id, type: 'removed' });
  } else if (m.type === 'exit') {
    for (const loop of loops.values()) loop.shutdown();
    loops.clear();
    parentPort.close();
  }
});
`;

type LoopMessage =
  | { type: 'ready' }
  | { type: 'down'; message: string }
  | { type: 'fatal'; message: string }
  | { type: 'removed' }
  | { type: 'second'; at: number; calls: number; avgMs: number; p50Ms: number; p99Ms: number; maxMs: number };

interface LoopConfig {
  host: string;
  port: number;
  /** A tunnel's local forward to connect to instead of host:port. */
  dialHost?: string;
  dialPort?: number;
  tls?: Record<string, unknown>;
  username?: string;
  password?: string;
  intervalMs: number;
  windowMs: number;
}

/** The one worker thread of the process that runs every PING loop; gone when it has no loops. */
interface ProbeThread {
  worker: Worker;
  listeners: Map<number, (m: LoopMessage) => void>;
  closing: boolean;
  exited: Promise<void>;
  alive: boolean;
}

let thread: ProbeThread | null = null;
let nextLoopId = 1;

/** Whether the probe thread is running (tests: it must be gone once every probe stopped). */
export function probeThreadRunning(): boolean {
  return thread !== null && thread.alive;
}

function probeThread(): ProbeThread {
  if (thread && !thread.closing && thread.alive) return thread;
  const worker = new Worker(PROBE_WORKER_SOURCE, {
    eval: true,
    // Small: a loop keeps one second of samples at most.
    resourceLimits: { maxOldGenerationSizeMb: 32, maxYoungGenerationSizeMb: 8 },
  });
  // A forgotten stop() must not keep the process alive.
  worker.unref();
  const t: ProbeThread = { worker, listeners: new Map(), closing: false, alive: true, exited: Promise.resolve() };
  t.exited = new Promise((resolve) =>
    worker.once('exit', () => {
      t.alive = false;
      if (thread === t) thread = null;
      // Loops still registered (the thread crashed) hear about it.
      for (const listener of t.listeners.values()) listener({ type: 'fatal', message: 'the probe thread ended' });
      t.listeners.clear();
      resolve();
    }),
  );
  worker.on('message', (m: LoopMessage & { id: number }) => t.listeners.get(m.id)?.(m));
  worker.on('error', (err) => {
    for (const listener of t.listeners.values()) listener({ type: 'fatal', message: `the probe thread failed (${err.message})` });
    t.listeners.clear();
  });
  thread = t;
  return t;
}

/** Starts a PING loop in the probe thread; returns its remover (resolves once its socket is closed). */
function addLoop(cfg: LoopConfig, listener: (m: LoopMessage) => void): () => Promise<void> {
  const t = probeThread();
  const id = nextLoopId++;
  t.listeners.set(id, listener);
  t.worker.postMessage({ type: 'add', id, cfg });
  let removing: Promise<void> | null = null;
  return () =>
    (removing ??= (async () => {
      if (t.alive && t.listeners.has(id)) {
        const removed = new Promise<void>((resolve) => {
          t.listeners.set(id, (m) => (m.type === 'removed' ? resolve() : undefined));
          t.exited.then(resolve, resolve);
        });
        t.worker.postMessage({ type: 'remove', id });
        await removed;
      }
      t.listeners.delete(id);
      // The last loop gone: the thread goes too (a later probe starts a new one).
      if (t.listeners.size === 0 && t.alive && !t.closing) {
        t.closing = true;
        if (thread === t) thread = null;
        t.worker.postMessage({ type: 'exit' });
        const timer = setTimeout(() => void t.worker.terminate(), 2000);
        await t.exited;
        clearTimeout(timer);
      }
    })());
}

export interface LatencyProbeOptions {
  node: ProbeNode;
  /** Names the node in warnings, e.g. `target (127.0.0.1:7000)`. */
  label: string;
  /** Time from one PING to the next (default 5 ms: ~200 a second). */
  intervalMs?: number;
  /** One report per window (default 1000 ms). */
  windowMs?: number;
  /**
   * Only where the job allows changing the server's config: a server whose latency monitor is off
   * (`latency-monitor-threshold 0`) gets this threshold (ms) for the run, and its old value back
   * on stop. Absent (the default): the config is never changed, and such a server reports
   * `serverMaxMs: null`.
   */
  setLatencyMonitorMs?: number;
  onSecond(second: LatencySecond): void;
  onWarning?(message: string): void;
}

/**
 * Measures the round trip one node gives a dedicated connection, PING after PING (in the probe
 * thread), and reports it every second together with the server's own view (LATENCY LATEST)
 * where the server shares it.
 */
export class LatencyProbe {
  readonly node: string;
  private remove: (() => Promise<void>) | null = null;
  private running = false;
  private down = false;
  private readonly server: ServerLatencyView;

  constructor(private readonly opts: LatencyProbeOptions) {
    this.node = nodeName(opts.node);
    this.server = new ServerLatencyView(opts.node, opts.label, opts.setLatencyMonitorMs);
  }

  /** Whether its PING loop runs. */
  get alive(): boolean {
    return this.running;
  }

  /**
   * Starts the PING loop and the server view; resolves once the probe answers (or could not
   * connect: then it warns and keeps trying every second). Never throws for an unreachable server.
   */
  async start(): Promise<void> {
    if (this.remove) return;
    const { node } = this.opts;
    let answered: () => void = () => undefined;
    const first = new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 5000);
      timer.unref();
      answered = () => {
        clearTimeout(timer);
        resolve();
      };
    });
    this.running = true;
    this.remove = addLoop(
      {
        host: node.host,
        port: node.port,
        dialHost: node.dial?.host,
        dialPort: node.dial?.port,
        tls: node.tls ? cloneableTls(node.tls) : undefined,
        username: node.username,
        password: node.password,
        intervalMs: this.opts.intervalMs ?? 5,
        windowMs: this.opts.windowMs ?? 1000,
      },
      (m) => {
        this.onMessage(m);
        if (m.type !== 'second') answered();
      },
    );
    await Promise.all([first, this.server.open()]);
  }

  /** Stops the loop (resolves once its socket is closed, and the thread has exited if it was the last) and the server view. */
  async stop(): Promise<void> {
    if (this.remove) await this.remove();
    this.running = false;
    await this.server.close();
  }

  private onMessage(m: LoopMessage): void {
    switch (m.type) {
      case 'ready':
        this.down = false;
        break;
      case 'down':
        // Once per outage, not every second.
        if (!this.down) this.opts.onWarning?.(`latency probe of ${this.opts.label}: ${m.message}; retrying every second`);
        this.down = true;
        break;
      case 'fatal':
        this.running = false;
        this.opts.onWarning?.(`latency probe of ${this.opts.label}: ${m.message}; latency is not measured there`);
        break;
      case 'second':
        this.opts.onSecond({ at: m.at, calls: m.calls, avgMs: m.avgMs, p50Ms: m.p50Ms, p99Ms: m.p99Ms, maxMs: m.maxMs, serverMaxMs: this.server.take() });
        break;
      case 'removed':
        break;
    }
  }
}

/** TLS options as the worker can receive them (structured clone: no functions). */
function cloneableTls(options: tls.ConnectionOptions): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const name of ['ca', 'cert', 'key', 'pfx', 'passphrase', 'servername', 'rejectUnauthorized', 'minVersion', 'maxVersion', 'ciphers'] as const) {
    const value = options[name];
    if (value !== undefined) out[name] = value;
  }
  return out;
}

/**
 * The server's own view of its stalls: `LATENCY LATEST`, read once a second on a connection of
 * its own. Redis records an event only when its latency monitor is on (threshold > 0), and an
 * empty answer cannot tell "no stall" from "monitor off", so `take()` returns null until the
 * threshold is known to be on (CONFIG GET) or the monitor has shown an entry. The threshold is set
 * only when the caller passes `setLatencyMonitorMs` (the job allows config changes).
 */
class ServerLatencyView {
  private conn: RedisConnection | null = null;
  private timer: NodeJS.Timeout | null = null;
  private available = false;
  private worst = 0;
  private readonly seen = new Map<string, string>();
  private restoreThreshold: string | null = null;
  private polling = false;
  private closed = false;

  constructor(
    private readonly node: ProbeNode,
    private readonly label: string,
    private readonly setThresholdMs: number | undefined,
  ) {}

  async open(): Promise<void> {
    let conn: RedisConnection;
    try {
      const { host, port } = this.node.dial ?? this.node;
      const tlsOptions = this.node.tls && this.node.dial ? tlsForRealHost(this.node.tls, this.node.host) : this.node.tls;
      conn = await RedisConnection.connect({ host, port, tls: tlsOptions, label: this.label, connectTimeoutMs: 5000 });
    } catch {
      return; // the probe itself warns about an unreachable server
    }
    if (this.closed) return conn.close();
    this.conn = conn;
    try {
      if (this.node.password !== undefined || this.node.username !== undefined) {
        const auth = this.node.username ? ['AUTH', this.node.username, this.node.password ?? ''] : ['AUTH', this.node.password ?? ''];
        await conn.call(...auth).catch((err: unknown) => {
          if (!(err instanceof ReplyError && /without any password configured/i.test(err.message))) throw err;
        });
      }
      await conn.call('CLIENT', 'SETNAME', 'ferry-latency-view').catch(() => undefined);
      const threshold = await conn.call('CONFIG', 'GET', 'latency-monitor-threshold').then(
        (reply) => Number(replyText(replyArray(reply)[1] ?? null) || NaN),
        () => NaN, // CONFIG refused (managed services): unknown until LATENCY LATEST shows an entry
      );
      if (threshold > 0) this.available = true;
      else if (threshold === 0 && this.setThresholdMs !== undefined && this.setThresholdMs > 0) {
        await conn.call('CONFIG', 'SET', 'latency-monitor-threshold', Math.ceil(this.setThresholdMs));
        this.restoreThreshold = '0';
        this.available = true;
      }
      // The first answer is the baseline: stalls from before the run are not this run's.
      await this.poll(false);
      if (this.closed || !this.conn) return;
      this.timer = setInterval(() => void this.poll(true), 1000);
      this.timer.unref();
    } catch {
      // LATENCY refused or the connection dropped: no server view, the probe still runs.
      this.stopPolling();
    }
  }

  /** The worst new stall since the last call, or null when the server's view is not available. */
  take(): number | null {
    if (!this.available) return null;
    const worst = this.worst;
    this.worst = 0;
    return worst;
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    const conn = this.conn;
    if (!conn) return;
    if (this.restoreThreshold !== null && !conn.closed) {
      await withTimeout(conn.call('CONFIG', 'SET', 'latency-monitor-threshold', this.restoreThreshold), 2000).catch(() => undefined);
    }
    conn.close();
    this.conn = null;
  }

  private async poll(count: boolean): Promise<void> {
    const conn = this.conn;
    if (!conn || this.polling) return;
    this.polling = true;
    try {
      const entries = replyArray(await conn.call('LATENCY', 'LATEST'));
      for (const entry of entries) {
        const [name, at, latest] = replyArray(entry) as [Reply, Reply, Reply];
        const event = replyText(name);
        const signature = `${replyText(at)}:${replyText(latest)}`;
        if (this.seen.get(event) === signature) continue;
        this.seen.set(event, signature);
        // Entries prove the monitor is on (a threshold we could not read).
        this.available = true;
        if (count) this.worst = Math.max(this.worst, Number(replyText(latest)));
      }
    } catch (err) {
      if (!count) throw err;
      // Refused later (or the connection dropped): stop asking.
      this.stopPolling();
    } finally {
      this.polling = false;
    }
  }

  private stopPolling(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    this.available = false;
    this.conn?.close();
    this.conn = null;
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timed out')), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export interface LatencyProbesOptions {
  /** options.latencyBudgetMs: seconds whose p99 is above it are counted in the summary. */
  budgetMs: number;
  /** Fed every node's per-second p99; its factor goes into the events' `paceFactor`. */
  guard?: LatencyGuard;
  /** Every per-second latency event (the migration puts them on the bus). */
  onEvent?: (event: LatencyEvent) => void;
  onWarning?: (message: string) => void;
  intervalMs?: number;
  windowMs?: number;
  /** See LatencyProbeOptions.setLatencyMonitorMs: absent = never change the servers' config. */
  setLatencyMonitorMs?: number;
  /** Per-second windows kept per node (default 3,600: the last hour). */
  historySeconds?: number;
}

interface EndpointTotals {
  nodes: string[];
  seconds: number;
  calls: number;
  /** Sum of avgMs × calls, for the overall average. */
  weightedMs: number;
  maxMs: number;
  worstP99Ms: number;
  secondsOverBudget: number;
  lastOverSecond: number;
  serverMaxMs: number | null;
}

/** A node's bounded per-second history (a ring). */
class SecondsRing {
  private readonly items: LatencyEvent[] = [];
  private next = 0;
  constructor(private readonly size: number) {}
  push(item: LatencyEvent): void {
    if (this.items.length < this.size) this.items.push(item);
    else this.items[this.next] = item;
    this.next = (this.next + 1) % this.size;
  }
  /** Oldest first. */
  list(): LatencyEvent[] {
    return this.items.length < this.size ? [...this.items] : [...this.items.slice(this.next), ...this.items.slice(0, this.next)];
  }
}

/**
 * The probes of every endpoint of a run (the target and each source; one per master of a
 * cluster): emits a `latency` event per node per second, feeds the latency guard, keeps per
 * endpoint the last hour of seconds and a summary for the run report.
 */
export class LatencyProbes {
  private readonly probes: Array<{ endpoint: string; probe: LatencyProbe }> = [];
  private readonly history = new Map<string, Map<string, SecondsRing>>();
  private readonly totals = new Map<string, EndpointTotals>();
  private stopped = false;

  constructor(private readonly opts: LatencyProbesOptions) {}

  /** Starts a probe per node of each endpoint; resolves when they all answer (or warned). */
  async start(endpoints: Array<{ name: string; endpoint: Endpoint }>): Promise<void> {
    const started: Array<Promise<void>> = [];
    for (const { name, endpoint } of endpoints) {
      const nodes = probeNodesOf(endpoint);
      const totals: EndpointTotals = this.totals.get(name) ?? { nodes: [], seconds: 0, calls: 0, weightedMs: 0, maxMs: 0, worstP99Ms: 0, secondsOverBudget: 0, lastOverSecond: -1, serverMaxMs: null };
      this.totals.set(name, totals);
      const rings = this.history.get(name) ?? new Map<string, SecondsRing>();
      this.history.set(name, rings);
      for (const node of nodes) {
        const label = `${endpoint.spec.role === 'target' ? 'target' : `source ${name}`} (${nodeName(node)})`;
        const probe: LatencyProbe = new LatencyProbe({
          node,
          label,
          intervalMs: this.opts.intervalMs,
          windowMs: this.opts.windowMs,
          setLatencyMonitorMs: this.opts.setLatencyMonitorMs,
          onWarning: this.opts.onWarning,
          onSecond: (second) => this.record(name, probe.node, second, Boolean(node.dial)),
        });
        totals.nodes.push(probe.node);
        rings.set(probe.node, new SecondsRing(this.opts.historySeconds ?? 3600));
        this.probes.push({ endpoint: name, probe });
        started.push(probe.start());
      }
    }
    await Promise.all(started);
  }

  /** Stops every probe; resolves once every worker thread has exited. */
  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.all(this.probes.map(({ probe }) => probe.stop()));
    for (const { endpoint, probe } of this.probes) this.opts.guard?.forget(watchKey(endpoint, probe.node));
  }

  /** Whether any probe's worker thread is still alive. */
  get alive(): boolean {
    return this.probes.some(({ probe }) => probe.alive);
  }

  /** The last hour of seconds of one endpoint, every node, oldest first. */
  series(endpoint: string): LatencyEvent[] {
    const rings = this.history.get(endpoint);
    if (!rings) return [];
    return [...rings.values()].flatMap((r) => r.list()).sort((a, b) => a.at - b.at);
  }

  /** Per endpoint, over the whole run (not only the kept hour). */
  summary(): LatencySummary[] {
    return [...this.totals].map(([endpoint, t]) => ({
      endpoint,
      nodes: [...t.nodes],
      seconds: t.seconds,
      calls: t.calls,
      avgMs: t.calls > 0 ? round3(t.weightedMs / t.calls) : 0,
      maxMs: t.maxMs,
      worstP99Ms: t.worstP99Ms,
      secondsOverBudget: t.secondsOverBudget,
      budgetMs: this.opts.budgetMs,
      serverMaxMs: t.serverMaxMs,
    }));
  }

  /** Per node, the lowest per-second median round trip seen: the network's share of every PING. */
  private readonly roundTripFloor = new Map<string, number>();

  /** Tunnelled nodes already warned about: their server's latency monitor is off. */
  private readonly unguarded = new Set<string>();

  private record(endpoint: string, node: string, second: LatencySecond, tunneled: boolean): void {
    if (this.stopped) return;
    const guard = this.opts.guard;
    // The budget is for latency Ferry adds: a remote target's network round trip is not its doing.
    // Its floor is the lowest per-second median seen on that node.
    const key = watchKey(endpoint, node);
    const floor = Math.min(this.roundTripFloor.get(key) ?? Infinity, second.p50Ms);
    this.roundTripFloor.set(key, floor);
    // Through an SSH tunnel the PINGs queue behind Ferry's own bulk traffic in the same connection
    // (measured: p99 ~45 ms through an idle server), so they cannot judge the server: the guard
    // goes by the server's own latency monitor there, and by nothing when that is off.
    let addedMs: number | null = Math.max(0, second.p99Ms - floor);
    if (tunneled) {
      addedMs = second.serverMaxMs;
      if (addedMs === null && !this.unguarded.has(key)) {
        this.unguarded.add(key);
        this.opts.onWarning?.(
          `latency of ${endpoint} (${node}) is measured through an SSH tunnel, where the probe waits behind the copy's own traffic; ` +
            'the latency guard therefore goes by the server\'s own latency monitor, which is off there. Turn it on (CONFIG SET latency-monitor-threshold 1) for the guard to protect this server, or set options.maxKeysPerSec',
        );
      }
    }
    const paceFactor = guard ? (addedMs === null ? guard.factor : guard.observe(key, addedMs, second.at)) : 1;
    const event: LatencyEvent = { type: 'latency', endpoint, node, ...second, paceFactor, at: second.at };
    this.history.get(endpoint)?.get(node)?.push(event);
    const t = this.totals.get(endpoint);
    if (t) {
      t.seconds++;
      t.calls += second.calls;
      t.weightedMs += second.avgMs * second.calls;
      t.maxMs = Math.max(t.maxMs, second.maxMs);
      t.worstP99Ms = Math.max(t.worstP99Ms, second.p99Ms);
      const wallSecond = Math.floor(second.at / 1000);
      if (addedMs !== null && addedMs > this.opts.budgetMs && wallSecond !== t.lastOverSecond) {
        t.secondsOverBudget++;
        t.lastOverSecond = wallSecond;
      }
      if (second.serverMaxMs !== null) t.serverMaxMs = Math.max(t.serverMaxMs ?? 0, second.serverMaxMs);
    }
    this.opts.onEvent?.(event);
  }
}

function watchKey(endpoint: string, node: string): string {
  return `${endpoint} ${node}`;
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
