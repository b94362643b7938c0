import path from 'node:path';
import type { EngineEvent } from '../../../shared/events.js';
import type { Job, Source } from '../../../shared/job.js';
import { Endpoint, type ClusterNode, type EndpointSpec } from '../endpoints/endpoint.js';
import { parseInfo } from '../endpoints/serverFacts.js';
import type { Route } from '../endpoints/route.js';
import { replyArray, replyText } from '../resp/reply.js';
import { redisServerBinary } from '../sandbox/redisProcess.js';
import { runLimited } from '../run/runLimited.js';
import type { TunnelSet } from '../tunnels/tunnelSet.js';
import { checkStagingFits, redisServerVersion } from './stagingFit.js';
import { StagingError, StagingReplica } from './stagingReplica.js';

export interface StagingSetOptions {
  /** Staging directories go under `<root>/<source>/<node>/`. */
  root: string;
  /** Only these sources (by name); default every `stage: replica` source. */
  only?: string[];
  tunnels: TunnelSet | null;
  /** Keep the replicas following their sources (live sync reads their stream) instead of detaching them. */
  attached?: boolean;
  emit: (event: EngineEvent) => void;
  signal?: AbortSignal;
}

/** One source node and the frozen local copy standing in for it. */
interface StagedNode {
  node: { host: string; port: number };
  replica: StagingReplica;
}

interface StagedSource {
  source: Source;
  nodes: StagedNode[];
  /** The cluster's masters and slots when it was staged; absent for a standalone source. */
  layout?: ClusterNode[];
}

/**
 * The staging replicas of a run (`stage: replica`): each source node is synced once into a local
 * redis-server, which is then detached (a frozen point-in-time copy). The run, and the verify at
 * its end, read the copies instead of the sources. `options.parallel.staging` sync at once.
 */
export class StagingSet {
  private constructor(private readonly staged: Map<string, StagedSource>) {}

  static sourcesToStage(job: Job): Source[] {
    return job.sources.filter((s) => s.stage === 'replica');
  }

  static async start(job: Job, opts: StagingSetOptions): Promise<StagingSet> {
    const set = new StagingSet(new Map());
    const toStage = StagingSet.sourcesToStage(job).filter((s) => !opts.only || opts.only.includes(s.name));
    if (toStage.length === 0) return set;
    const binary = redisServerBinary(job.options.redisServer);
    const binaryVersion = redisServerVersion(binary);
    try {
      // Learn each source's nodes first (one short connection each), then sync N replicas at once.
      const tasks: Array<() => Promise<void>> = [];
      for (const source of toStage) {
        const live = await openLive(source, opts.tunnels);
        try {
          const nodes = live.isCluster ? live.masters.map((m) => ({ host: m.host, port: m.port })) : [{ host: live.address.host, port: live.address.port }];
          const staged: StagedSource = { source, nodes: [], ...(live.isCluster && { layout: live.masters.map((m) => ({ ...m, slots: [...m.slots] })) }) };
          set.staged.set(source.name, staged);
          const databases = await databasesSetting(live);
          for (const node of nodes) {
            const local = live.localAddressOf(node.host, node.port);
            const usedMemory = live.isCluster ? await nodeUsedMemory(live, node) : live.facts.usedMemory;
            const nodeName = `${node.host.includes(':') ? `[${node.host}]` : node.host}:${node.port}`;
            tasks.push(async () => {
              opts.signal?.throwIfAborted();
              const dir = path.join(opts.root, source.name, nodeName.replace(/[^\w.-]/g, '_'));
              // Checked just before each start: replicas already running have taken their share.
              const problems = checkStagingFits({ source: source.name, node: nodeName, sourceVersion: live.facts.version, sourceUsedMemory: usedMemory, binary, binaryVersion, dir });
              if (problems.length > 0) throw new StagingError(problems.join('\n'), 'start');
              opts.emit({ type: 'source-stage', source: source.name, stage: 'staging', message: `syncing a local replica of ${nodeName}`, at: Date.now() });
              const replica = await StagingReplica.start({
                source: source.name,
                node: nodeName,
                master: { ...local, username: live.address.username, password: live.address.password },
                dir,
                redisServer: binary,
                databases,
                onEvent: opts.emit,
                signal: opts.signal,
              });
              staged.nodes.push({ node, replica });
              await replica.waitSynced();
              if (!opts.attached) await replica.detach();
            });
          }
        } finally {
          live.close();
        }
      }
      await runLimited(tasks, job.options.parallel.staging, (task) => task());
      return set;
    } catch (err) {
      await set.stop(false);
      throw err;
    }
  }

  get size(): number {
    return this.staged.size;
  }

  has(sourceName: string): boolean {
    return this.staged.has(sourceName);
  }

  /**
   * How to open a staged source: its frozen copies stand in for its servers (plain TCP on
   * 127.0.0.1, no password), under the source's own name and address for messages.
   */
  endpointSpec(source: Source): EndpointSpec | null {
    const staged = this.staged.get(source.name);
    if (!staged) return null;
    const byAddress = new Map(staged.nodes.map((n) => [`${n.node.host}:${n.node.port}`, { host: n.replica.host, port: n.replica.port }]));
    const route: Route = {
      via: 'staging copy',
      reach: async (host, port) => {
        const local = byAddress.get(`${host}:${port}`);
        if (!local) throw new Error(`no staging copy of ${host}:${port}`);
        return local;
      },
    };
    return { role: 'source', name: source.name, url: plainUrl(source.url!), route, ...(staged.layout && { frozenLayout: staged.layout }) };
  }

  /** The local replica standing in for a source node (`host:port` as the source names it), or null. */
  replicaOf(sourceName: string, host: string, port: number): { host: string; port: number } | null {
    const n = this.staged.get(sourceName)?.nodes.find((x) => x.node.host === host && x.node.port === port);
    return n ? { host: n.replica.host, port: n.replica.port } : null;
  }

  /** Shuts every staging server down; their files are kept with `keepFiles` (options.keepStaging). */
  async stop(keepFiles: boolean): Promise<void> {
    const all = [...this.staged.values()].flatMap((s) => s.nodes);
    await Promise.all(all.map((n) => n.replica.stop({ keepFiles })));
  }

  /** Where the kept files are, for the closing message. */
  get dirs(): string[] {
    return [...this.staged.values()].flatMap((s) => s.nodes.map((n) => n.replica.dir));
  }
}

/** The source URL without credentials, TLS or options: the copies are local and open. */
function plainUrl(url: string): string {
  const u = new URL(url);
  const db = u.pathname.replace(/^\//, '');
  return `redis://${u.host}${db ? `/${db}` : ''}`;
}

async function openLive(source: Source, tunnels: TunnelSet | null): Promise<Endpoint> {
  return Endpoint.open({ role: 'source', name: source.name, url: source.url!, route: source.via && tunnels ? tunnels.route(source.via) : undefined });
}

/** The source's `databases` setting, so a replica has room for every db (CONFIG may be refused). */
async function databasesSetting(live: Endpoint): Promise<number> {
  const highest = Math.max(-1, ...live.facts.keyspace.keys()) + 1;
  try {
    const reply = replyArray(await live.command('CONFIG', 'GET', 'databases'));
    return Math.max(Number(replyText(reply[1])) || 16, highest);
  } catch {
    return Math.max(16, highest);
  }
}

async function nodeUsedMemory(live: Endpoint, node: { host: string; port: number }): Promise<number> {
  const conn = await live.nodeConnection(node.host, node.port);
  return Number(parseInfo(replyText(await conn.call('INFO', 'memory'))).get('used_memory') ?? 0);
}
