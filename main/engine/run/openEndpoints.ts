import type { Job } from '../../../shared/job.js';
import { Endpoint } from '../endpoints/endpoint.js';
import type { TunnelSet } from '../tunnels/tunnelSet.js';
import type { StagingSet } from '../staging/stagingSet.js';
import { checkRdbFiles, type RdbSourceFile } from '../sources/rdbFile.js';

/** What stands between Ferry and the servers: SSH tunnels, and staging copies of staged sources. */
export interface EndpointPaths {
  tunnels?: TunnelSet | null;
  staging?: StagingSet | null;
}

/** Features the job file accepts but this version cannot run yet: refused up front, exit 2. */
export class UnsupportedError extends Error {}

export function refuseUnsupported(job: Job): void {
  const problems = unsupportedProblems(job);
  if (problems.length) throw new UnsupportedError(problems.join('\n'));
}

/** What in the job this version cannot do yet, one message per field. */
export function unsupportedProblems(job: Job): string[] {
  const problems: string[] = [];
  job.sources.forEach((s, i) => {
    // A local replica would need tls-replication and the source's certificates.
    if (s.stage === 'replica' && s.url?.startsWith('rediss://')) problems.push(`sources[${i}].stage: staging a TLS (rediss://) source is not supported yet; use stage: direct`);
  });
  return problems;
}

/**
 * Connects to the target and every live source at once, and checks every RDB file source (there,
 * readable, an RDB file), so every unreachable endpoint, wrong password or bad file is reported
 * together, each by its name. `sources` holds the live sources, `files` the RDB file sources.
 */
export async function openEndpoints(job: Job, paths: EndpointPaths = {}): Promise<{ sources: Map<string, Endpoint>; files: Map<string, RdbSourceFile>; target: Endpoint }> {
  const { tunnels, staging } = paths;
  const route = (via: string | undefined) => (via && tunnels ? tunnels.route(via) : undefined);
  const live = job.sources.filter((s) => s.rdb === undefined);
  const [attempts, checked] = await Promise.all([
    Promise.allSettled([
      Endpoint.open({ role: 'target', name: 'target', url: job.target.url, cluster: job.target.cluster, route: route(job.target.via) }),
      ...live.map((s) => Endpoint.open(staging?.endpointSpec(s) ?? { role: 'source', name: s.name, url: s.url!, cluster: undefined, route: route(s.via) })),
    ]),
    checkRdbFiles(job),
  ]);
  const failures = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected').map((a) => (a.reason as Error).message);
  failures.push(...checked.failures);
  const opened = attempts.filter((a): a is PromiseFulfilledResult<Endpoint> => a.status === 'fulfilled').map((a) => a.value);
  if (failures.length) {
    opened.forEach((e) => e.close());
    throw new Error(failures.join('\n'));
  }
  const [target, ...sources] = opened;
  return { target, sources: new Map(live.map((s, i) => [s.name, sources[i]])), files: checked.files };
}
