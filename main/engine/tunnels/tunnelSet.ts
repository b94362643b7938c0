import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { EngineEventOf } from '../../../shared/events.js';
import type { Job, Tunnel } from '../../../shared/job.js';
import type { Route } from '../endpoints/route.js';
import type { EventBus } from '../events/eventBus.js';
import { KnownHosts } from './knownHosts.js';
import { parseJumpSpec, resolveSshHost, type SshHostConfig } from './sshConfig.js';
import { SshTunnel, TunnelError, type SshHop, type TunnelContext } from './sshTunnel.js';

/** What a caller (CLI, tests, the desktop app) decides about tunnels; events are wired by the engine. */
export type TunnelChoices = Pick<TunnelSetOptions, 'acceptNewHostKeys' | 'ownKnownHosts' | 'sshConfigFile'>;

export interface TunnelSetOptions {
  /** Record unknown host keys in Ferry's own known_hosts instead of refusing them. */
  acceptNewHostKeys?: boolean;
  /** Ferry's own known_hosts (read and appended to); default `<config dir>/known_hosts`. */
  ownKnownHosts?: string;
  /** default ~/.ssh/config */
  sshConfigFile?: string;
  onEvent?: (event: EngineEventOf<'tunnel'>) => void;
  onWarning?: (message: string) => void;
}

const DEFAULT_KEEPALIVE_MS = 5000;
const DEFAULT_IDENTITY_FILES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];

/** `$FERRY_CONFIG_DIR`, else `$XDG_CONFIG_HOME/ferry`, else `~/.config/ferry`. */
export function ferryConfigDir(): string {
  return process.env.FERRY_CONFIG_DIR || path.join(process.env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config'), 'ferry');
}

/** Tunnel options whose events and warnings go to the run's bus. */
export function tunnelOptions(choices: TunnelChoices | undefined, bus: EventBus): TunnelSetOptions {
  return {
    ...choices,
    onEvent: (event) => bus.emit(event),
    onWarning: (message) => bus.emit({ type: 'warning', message, at: Date.now() }),
  };
}

/** The tunnels a job uses (those named by `via`, and the hops they jump through), open and kept up. */
export class TunnelSet {
  private constructor(private readonly tunnels: Map<string, SshTunnel>) {}

  /** Tunnels named by the job's `via` fields, with their jump chains. */
  static usedBy(job: Job): string[] {
    const names = new Set<string>();
    for (const s of job.sources) if (s.via) names.add(s.via);
    if (job.target.via) names.add(job.target.via);
    return [...names];
  }

  /**
   * Resolves and opens every tunnel the job's endpoints go through, parents before children.
   * Every tunnel that fails is reported, each by name.
   */
  static async open(job: Job, opts: TunnelSetOptions = {}): Promise<TunnelSet> {
    const ctx: TunnelContext = {
      acceptNewHostKeys: Boolean(opts.acceptNewHostKeys),
      onEvent: opts.onEvent ?? (() => undefined),
      onWarning: opts.onWarning ?? (() => undefined),
    };
    const resolver = new HopResolver(job, opts, ctx);
    const used = TunnelSet.usedBy(job).map((name) => resolver.tunnel(name));
    const set = new TunnelSet(resolver.built);
    // Open in chain order: a tunnel's parent is opened (once) before it.
    const opening = new Map<SshTunnel, Promise<void>>();
    const openChain = (t: SshTunnel): Promise<void> => {
      let p = opening.get(t);
      if (!p) {
        const parent = resolver.parentOf.get(t);
        p = (parent ? openChain(parent) : Promise.resolve()).then(() => t.open());
        opening.set(t, p);
      }
      return p;
    };
    const results = await Promise.allSettled(used.map(openChain));
    const rejected = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as Error);
    if (rejected.length > 0) {
      set.close();
      const unknownHostKey = rejected.some((e) => e instanceof TunnelError && e.unknownHostKey);
      throw new TunnelError(used.map((t) => t.hop.name).join(', '), [...new Set(rejected.map((e) => e.message))].join('\n'), true, unknownHostKey);
    }
    return set;
  }

  /** The job's tunnels opened, or null when no endpoint goes through one. */
  static async forJob(job: Job, opts: TunnelSetOptions = {}): Promise<TunnelSet | null> {
    return TunnelSet.usedBy(job).length > 0 ? TunnelSet.open(job, opts) : null;
  }

  /** How endpoints with `via: name` reach their servers: a local forward per server address. */
  route(name: string): Route {
    const tunnel = this.tunnels.get(name);
    if (!tunnel) throw new Error(`tunnel ${name} is not open`);
    return {
      via: `tunnel ${name}`,
      reach: async (host, port) => ({ host: '127.0.0.1', port: await tunnel.forward(host, port) }),
    };
  }

  close(): void {
    for (const t of this.tunnels.values()) t.close();
  }
}

/** Turns job tunnels (and ~/.ssh/config aliases and ProxyJumps) into SshTunnels, each built once. */
class HopResolver {
  readonly built = new Map<string, SshTunnel>();
  readonly parentOf = new Map<SshTunnel, SshTunnel>();
  private readonly sshConfigText: string;
  private readonly ownKnownHosts: string;

  constructor(
    private readonly job: Job,
    opts: TunnelSetOptions,
    private readonly ctx: TunnelContext,
  ) {
    const file = opts.sshConfigFile ?? path.join(os.homedir(), '.ssh', 'config');
    this.sshConfigText = readIfExists(file);
    this.ownKnownHosts = opts.ownKnownHosts ?? path.join(ferryConfigDir(), 'known_hosts');
  }

  tunnel(name: string): SshTunnel {
    const existing = this.built.get(name);
    if (existing) return existing;
    const spec = this.job.tunnels?.[name];
    if (!spec) throw new TunnelError(name, `tunnel ${name} is not defined under tunnels:`, true);
    const alias = resolveSshHost(spec.host, this.sshConfigText, os.homedir());
    let parent: SshTunnel | null = null;
    if (spec.jump) parent = this.tunnel(spec.jump);
    else if (alias.proxyJump) parent = this.proxyJumps(name, alias.proxyJump, spec.knownHosts);
    const tunnel = new SshTunnel(this.hop(name, spec, alias), parent, this.ctx);
    if (parent) this.parentOf.set(tunnel, parent);
    this.built.set(name, tunnel);
    return tunnel;
  }

  /** A ProxyJump list from ~/.ssh/config becomes a chain of hops, first to last. */
  private proxyJumps(name: string, proxyJump: string, knownHosts: string | undefined): SshTunnel {
    let parent: SshTunnel | null = null;
    for (const jump of parseJumpSpec(proxyJump)) {
      const alias = resolveSshHost(jump.host, this.sshConfigText, os.homedir());
      const hopName = `${name} via ProxyJump ${jump.host}`;
      // The hops are checked against the same known_hosts file as the tunnel that names them.
      const spec: Tunnel = { host: jump.host, ...(jump.port && { port: jump.port }), ...(jump.user && { user: jump.user }), ...(knownHosts && { knownHosts }) };
      const tunnel: SshTunnel = new SshTunnel(this.hop(hopName, spec, alias), parent, this.ctx);
      if (parent) this.parentOf.set(tunnel, parent);
      this.built.set(hopName, tunnel);
      parent = tunnel;
    }
    return parent!;
  }

  private hop(name: string, spec: Tunnel, alias: SshHostConfig): SshHop {
    const home = os.homedir();
    const identityFile = spec.identityFile ?? alias.identityFiles.find((f) => fs.existsSync(f));
    let agent: string | undefined;
    if (spec.agent) {
      agent = process.env.SSH_AUTH_SOCK;
      if (!agent) throw new TunnelError(name, `tunnel ${name}: agent: true, but SSH_AUTH_SOCK is not set; start ssh-agent and ssh-add your key, or give identityFile`, true);
    }
    const hop: SshHop = {
      name,
      host: alias.hostName ?? spec.host,
      port: spec.port ?? alias.port ?? 22,
      user: spec.user ?? alias.user ?? os.userInfo().username,
      ...(identityFile && { identityFile }),
      ...(spec.passphrase !== undefined && { passphrase: spec.passphrase }),
      ...(agent && { agent }),
      ...(spec.password !== undefined && { password: spec.password }),
      keepaliveMs: spec.keepaliveMs ?? DEFAULT_KEEPALIVE_MS,
      knownHosts: new KnownHosts({
        readFiles: [spec.knownHosts ?? path.join(home, '.ssh', 'known_hosts')],
        ownFile: this.ownKnownHosts,
      }),
    };
    // Nothing given: do as ssh does, with the agent and the usual key files.
    if (!hop.identityFile && !hop.agent && hop.password === undefined) {
      if (process.env.SSH_AUTH_SOCK) hop.agent = process.env.SSH_AUTH_SOCK;
      const found = DEFAULT_IDENTITY_FILES.map((f) => path.join(home, '.ssh', f)).find((f) => fs.existsSync(f));
      if (found) hop.identityFile = found;
      if (!hop.agent && !hop.identityFile) {
        throw new TunnelError(name, `tunnel ${name}: no way to log in to ${hop.host}; give identityFile, agent: true or password`, true);
      }
    }
    return hop;
  }
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}
