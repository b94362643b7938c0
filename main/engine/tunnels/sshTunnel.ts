import fs from 'node:fs';
import net from 'node:net';
import ssh2, { type ClientChannel, type ConnectConfig, type ServerHostKeyAlgorithm } from 'ssh2';

// ssh2 is CommonJS: its named exports are not visible to Node's ESM loader, only its default.
const { Client, utils } = ssh2;
type Client = InstanceType<typeof Client>;
import type { EngineEventOf } from '../../../shared/events.js';
import { describeVerdict, type KnownHosts } from './knownHosts.js';

/** One SSH server to log in to, with everything resolved (ssh config, defaults, files). */
export interface SshHop {
  /** The job's tunnel name, or `<tunnel> via ProxyJump <host>` for a hop from ~/.ssh/config. */
  name: string;
  host: string;
  port: number;
  user: string;
  identityFile?: string;
  passphrase?: string;
  /** ssh-agent socket. */
  agent?: string;
  password?: string;
  keepaliveMs: number;
  knownHosts: KnownHosts;
}

export interface TunnelContext {
  acceptNewHostKeys: boolean;
  onEvent(event: EngineEventOf<'tunnel'>): void;
  /** A warning for the run (e.g. a host key recorded). */
  onWarning(message: string): void;
}

/** Something about a tunnel the user must fix; names the tunnel. `permanent`: retrying will not help. */
export class TunnelError extends Error {
  constructor(
    readonly tunnel: string,
    message: string,
    readonly permanent: boolean,
    /** Set for a host key that is not known yet: the UI can offer to accept it. */
    readonly unknownHostKey = false,
  ) {
    super(message);
    this.name = 'TunnelError';
  }
}

/** Waits between reconnect attempts: quick at first, then every 10 s. */
const RECONNECT_DELAYS_MS = [250, 500, 1000, 2000, 4000, 8000, 10_000];
/** How long a new stream waits for a tunnel that is down before it gives up (the run retries on its own). */
const STREAM_WAIT_MS = 30_000;
const READY_TIMEOUT_MS = 20_000;

type State = 'idle' | 'connecting' | 'up' | 'down' | 'failed' | 'closed';

/**
 * One SSH connection that Ferry keeps open: it carries local forwards (127.0.0.1, ephemeral ports)
 * and the connections of tunnels that jump through it. When it drops it reconnects with backoff;
 * the local forwards keep their ports, so a reconnecting Redis client finds them where they were.
 */
export class SshTunnel {
  private client: Client | null = null;
  private state: State = 'idle';
  private attempt = 0;
  private failure: TunnelError | null = null;
  private waiters: Array<{ resolve: (c: Client) => void; reject: (e: Error) => void }> = [];
  private readonly forwards = new Map<string, Promise<number>>();
  private readonly servers: net.Server[] = [];
  private readonly sockets = new Set<net.Socket>();
  private retryTimer: NodeJS.Timeout | null = null;
  private warnedNagle = false;

  constructor(
    readonly hop: SshHop,
    private readonly parent: SshTunnel | null,
    private readonly ctx: TunnelContext,
  ) {}

  get where(): string {
    return `${this.hop.user}@${this.hop.host.includes(':') ? `[${this.hop.host}]` : this.hop.host}:${this.hop.port}`;
  }

  /** First connection: any failure is thrown as a TunnelError that says what to fix. */
  async open(): Promise<void> {
    this.setState('connecting');
    try {
      this.adopt(await this.connectOnce());
    } catch (err) {
      this.state = 'failed';
      this.ctx.onEvent({ type: 'tunnel', tunnel: this.hop.name, state: 'down', attempt: 0, message: (err as Error).message, at: Date.now() });
      throw err;
    }
  }

  /**
   * A local port on 127.0.0.1 that leads to `host:port` as the SSH server sees it (one listener per
   * destination, opened once). The first call also opens a channel to check the destination answers.
   */
  async forward(host: string, port: number): Promise<number> {
    const key = `${host}:${port}`;
    let pending = this.forwards.get(key);
    if (!pending) {
      pending = this.listen(host, port);
      this.forwards.set(key, pending);
      pending.catch(() => this.forwards.delete(key));
    }
    return pending;
  }

  /** A channel to `host:port` through this tunnel; waits while the tunnel reconnects. */
  async openStream(host: string, port: number): Promise<ClientChannel> {
    const client = await this.whenUp();
    return new Promise((resolve, reject) => {
      client.forwardOut('127.0.0.1', 0, host, port, (err, channel) => {
        if (err) {
          const reason = err.message.replace(/^\(SSH\) Channel open failure: /, '');
          reject(new TunnelError(this.hop.name, `tunnel ${this.hop.name} (${this.where}): the SSH server could not open a connection to ${host}:${port} (${reason}); check that address as seen from ${this.hop.host}, and that the server allows TCP forwarding (AllowTcpForwarding)`, false));
        } else resolve(channel);
      });
    });
  }

  close(): void {
    if (this.state === 'closed') return;
    this.setState('closed');
    if (this.retryTimer) clearTimeout(this.retryTimer);
    for (const s of this.servers) s.close();
    for (const s of this.sockets) s.destroy();
    this.client?.end();
    this.client = null;
    this.rejectWaiters(new TunnelError(this.hop.name, `tunnel ${this.hop.name} was closed`, true));
  }

  private async listen(host: string, port: number): Promise<number> {
    // Check the destination answers before handing out a port: a refusal is then explained here
    // instead of showing up as a closed Redis connection.
    (await this.openStream(host, port)).close();
    const server = net.createServer((socket) => this.pipe(socket, host, port));
    this.servers.push(server);
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port));
    });
  }

  private pipe(socket: net.Socket, host: string, port: number): void {
    this.sockets.add(socket);
    socket.setNoDelay(true);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    this.openStream(host, port).then(
      (channel) => {
        if (socket.destroyed) return void channel.close();
        socket.pipe(channel).pipe(socket);
        channel.on('close', () => socket.destroy());
        channel.on('error', () => socket.destroy());
        socket.on('close', () => channel.close());
      },
      () => socket.destroy(),
    );
  }

  private whenUp(): Promise<Client> {
    if (this.state === 'up' && this.client) return Promise.resolve(this.client);
    if (this.failure) return Promise.reject(this.failure);
    if (this.state === 'closed') return Promise.reject(new TunnelError(this.hop.name, `tunnel ${this.hop.name} was closed`, true));
    return new Promise((resolve, reject) => {
      const waiter = {
        resolve: (c: Client) => {
          clearTimeout(timer);
          resolve(c);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new TunnelError(this.hop.name, `tunnel ${this.hop.name} (${this.where}) is down and did not come back within ${STREAM_WAIT_MS / 1000} s; Ferry keeps trying`, false));
      }, STREAM_WAIT_MS);
      this.waiters.push(waiter);
    });
  }

  private adopt(client: Client): void {
    this.client = client;
    this.attempt = 0;
    this.setState('up');
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w.resolve(client));
    let reason = '';
    client.on('error', (err: Error) => (reason = err.message)); // 'close' follows
    client.once('close', () => {
      if (this.client !== client || this.state === 'closed') return;
      this.client = null;
      // A network that vanished sends no reset: the keepalives notice (keepaliveMs x 3).
      this.setState('down', `the SSH connection dropped${reason ? ` (${reason})` : ''}`);
      this.scheduleReconnect();
    });
  }

  private scheduleReconnect(): void {
    const delay = RECONNECT_DELAYS_MS[Math.min(this.attempt, RECONNECT_DELAYS_MS.length - 1)];
    this.retryTimer = setTimeout(() => {
      this.retryTimer = null;
      if (this.state === 'closed') return;
      this.attempt++;
      this.setState('connecting');
      this.connectOnce().then(
        (client) => (this.state === 'closed' ? client.end() : this.adopt(client)),
        (err: Error) => {
          if (this.state === 'closed') return;
          if (err instanceof TunnelError && err.permanent) {
            // A changed host key or a refused login will not fix itself: stop and say so.
            this.failure = err;
            this.setState('down', err.message);
            this.state = 'failed';
            this.rejectWaiters(err);
            return;
          }
          this.setState('down', err.message);
          this.scheduleReconnect();
        },
      );
    }, delay);
  }

  private async connectOnce(): Promise<Client> {
    const { hop } = this;
    const auth = this.authConfig();
    const sock = this.parent ? await this.parent.openStream(hop.host, hop.port) : undefined;
    const client = new Client();
    let hostKeyProblem: string | null = null;
    let unknownKey = false;
    const config: ConnectConfig = {
      host: hop.host,
      port: hop.port,
      username: hop.user,
      ...auth,
      ...(sock && { sock }),
      readyTimeout: READY_TIMEOUT_MS,
      keepaliveInterval: hop.keepaliveMs,
      keepaliveCountMax: 3,
      // Ask first for the key types known_hosts holds for this host, as ssh does, so a host known by
      // its RSA key is not shown as "changed" because the server also has an ed25519 key.
      algorithms: { serverHostKey: hostKeyOrder(hop.knownHosts.knownKeyTypes(hop.host, hop.port)) },
      hostVerifier: (key: Buffer) => {
        const verdict = hop.knownHosts.check(hop.host, hop.port, key);
        if (verdict.kind === 'known') return true;
        if (verdict.kind === 'unknown' && this.ctx.acceptNewHostKeys) {
          hop.knownHosts.remember(hop.host, hop.port, key);
          this.ctx.onWarning(`tunnel ${hop.name} (${this.where}): new host key ${verdict.keyType} ${verdict.fingerprint} accepted (--accept-new-host-keys) and recorded`);
          return true;
        }
        hostKeyProblem = describeVerdict(hop.name, hop.host, hop.port, verdict);
        unknownKey = verdict.kind === 'unknown';
        return false;
      },
    };
    return new Promise((resolve, reject) => {
      let settled = false;
      const settle = (err: Error | null) => {
        if (settled) return;
        settled = true;
        if (err) {
          client.end();
          reject(err);
        } else resolve(client);
      };
      client.once('ready', () => {
        // Redis traffic is request/response: Nagle's algorithm holds a small reply back until the
        // previous segment is acknowledged. Our side is set here; sshd's side only for a connection
        // that has had a terminal session (see wakeSshd).
        client.setNoDelay(true);
        wakeSshd(client).then((refused) => {
          if (refused && !this.warnedNagle) {
            this.warnedNagle = true;
            this.ctx.onWarning(`tunnel ${hop.name} (${this.where}): the SSH server refused a terminal session (${refused}), so it batches small replies; each small request may wait up to 40 ms. Allow a pty for this user (PermitTTY) for full speed`);
          }
          settle(null);
        });
      });
      client.once('error', (err: Error & { level?: string }) => settle(this.explain(err, hostKeyProblem, unknownKey)));
      client.once('close', () => settle(this.explain(new Error('connection closed during the SSH handshake'), hostKeyProblem, unknownKey)));
      try {
        client.connect(config);
      } catch (err) {
        settle(new TunnelError(hop.name, `tunnel ${hop.name} (${this.where}): ${(err as Error).message}`, true));
      }
    });
  }

  /** The login methods the job gave, checked up front so a bad key file is named as such. */
  private authConfig(): Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent' | 'password'> {
    const { hop } = this;
    const out: Pick<ConnectConfig, 'privateKey' | 'passphrase' | 'agent' | 'password'> = {};
    if (hop.identityFile) {
      let key: Buffer;
      try {
        key = fs.readFileSync(hop.identityFile);
      } catch (err) {
        throw new TunnelError(hop.name, `tunnel ${hop.name}: cannot read identity file ${hop.identityFile} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}); check identityFile`, true);
      }
      const parsed = utils.parseKey(key, hop.passphrase);
      if (parsed instanceof Error) {
        const encrypted = /encrypted|passphrase/i.test(parsed.message);
        throw new TunnelError(
          hop.name,
          encrypted && !hop.passphrase
            ? `tunnel ${hop.name}: identity file ${hop.identityFile} is protected by a passphrase; give it as passphrase: \${env:NAME} (or use agent: true)`
            : encrypted
              ? `tunnel ${hop.name}: the passphrase does not open identity file ${hop.identityFile}; check passphrase`
              : `tunnel ${hop.name}: identity file ${hop.identityFile} is not a private key ssh2 can read (${parsed.message})`,
          true,
        );
      }
      out.privateKey = key;
      if (hop.passphrase) out.passphrase = hop.passphrase;
    }
    if (hop.agent) out.agent = hop.agent;
    if (hop.password !== undefined) out.password = hop.password;
    return out;
  }

  private explain(err: Error & { level?: string; code?: string }, hostKeyProblem: string | null, unknownKey = false): TunnelError {
    const { hop } = this;
    const head = `tunnel ${hop.name} (${this.where})`;
    if (hostKeyProblem) return new TunnelError(hop.name, hostKeyProblem, true, unknownKey);
    if (err instanceof TunnelError) return err;
    if (err.level === 'client-authentication') {
      const tried = [hop.identityFile && `key ${hop.identityFile}`, hop.agent && 'ssh-agent', hop.password !== undefined && 'password'].filter(Boolean).join(', ');
      return new TunnelError(hop.name, `${head}: the SSH server refused the login of user ${hop.user} (tried: ${tried || 'nothing'}); check user, identityFile, agent or password, and the server's authorized_keys`, true);
    }
    if (err.level === 'client-timeout') return new TunnelError(hop.name, `${head}: no SSH answer within ${READY_TIMEOUT_MS / 1000} s (${err.message}); check the host, port and firewall or VPN`, false);
    if (err.level === 'client-dns') return new TunnelError(hop.name, `${head}: host name ${hop.host} not found; check host (or HostName in ~/.ssh/config)`, true);
    if (err.code === 'ECONNREFUSED') return new TunnelError(hop.name, `${head}: connection refused; is sshd running there, and is the port right?`, false);
    if (err.code === 'EHOSTUNREACH' || err.code === 'ENETUNREACH') return new TunnelError(hop.name, `${head}: host unreachable; check the network or VPN`, false);
    return new TunnelError(hop.name, `${head}: ${err.message}`, false);
  }

  private setState(state: State, message?: string): void {
    if (this.state === 'closed' && state !== 'closed') return;
    this.state = state;
    const shown = state === 'idle' || state === 'failed' ? null : state;
    if (shown) this.ctx.onEvent({ type: 'tunnel', tunnel: this.hop.name, state: shown, attempt: this.attempt, ...(message && { message }), at: Date.now() });
  }

  private rejectWaiters(err: Error): void {
    const waiters = this.waiters;
    this.waiters = [];
    waiters.forEach((w) => w.reject(err));
  }
}

/**
 * sshd turns on TCP_NODELAY for a connection only once it runs a command on a terminal; until then
 * every small reply waits for the previous segment's ACK, which Linux delays up to 40 ms (measured
 * through a tunnel: a 64 KB GETRANGE took 44 ms, 0.5 ms after this). So Ferry runs `true` on a pty
 * once per connection; the setting stays after that session ends. Resolves with the refusal, if any.
 */
function wakeSshd(client: Client): Promise<string | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve('no answer within 5 s'), 5000);
    const done = (refusal: string | null) => {
      clearTimeout(timer);
      resolve(refusal);
    };
    try {
      client.exec('true', { pty: true }, (err, channel) => {
        if (err) return done(err.message);
        channel.on('close', () => done(null));
        channel.on('error', () => undefined);
        channel.resume();
        channel.stderr.resume();
      });
    } catch (err) {
      done((err as Error).message);
    }
  });
}

const HOST_KEY_ALGORITHMS: readonly string[] = ['ssh-ed25519', 'ecdsa-sha2-nistp256', 'ecdsa-sha2-nistp384', 'ecdsa-sha2-nistp521', 'rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'];

/** ssh2's default order with the known types moved to the front (ssh2 applies `remove`, then `prepend`). */
function hostKeyOrder(knownTypes: string[]): ServerHostKeyAlgorithm[] | { remove: ServerHostKeyAlgorithm[]; prepend: ServerHostKeyAlgorithm[]; append: ServerHostKeyAlgorithm[] } {
  const preferred = knownTypes
    .flatMap((t) => (t === 'ssh-rsa' ? ['rsa-sha2-512', 'rsa-sha2-256', 'ssh-rsa'] : [t]))
    .filter((t) => HOST_KEY_ALGORITHMS.includes(t)) as ServerHostKeyAlgorithm[];
  return { remove: preferred, prepend: preferred, append: [] };
}
