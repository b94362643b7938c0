/** Facts read from a server's INFO, used to choose how to read from it and write to it. */
export interface ServerFacts {
  version: string;
  /** [major, minor, patch] */
  versionParts: [number, number, number];
  /** The RDB version its DUMP payloads carry. */
  rdbVersion: number;
  clusterEnabled: boolean;
  /** Keys per db, from INFO keyspace. */
  keyspace: Map<number, number>;
  /** Keys holding hash fields with their own TTLs (INFO keyspace `subexpiry`, Redis 7.4+); null when not reported. */
  fieldTtlKeys: number | null;
  /** INFO memory `used_memory` (bytes): what a replica of it will hold. */
  usedMemory: number;
}

export function parseInfo(text: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon > 0 && !line.startsWith('#')) fields.set(line.slice(0, colon), line.slice(colon + 1));
  }
  return fields;
}

export function factsFromInfo(info: Map<string, string>): ServerFacts {
  const version = info.get('redis_version') ?? '0.0.0';
  const parts = version.split('.').map((p) => Number.parseInt(p, 10) || 0);
  const versionParts: [number, number, number] = [parts[0] ?? 0, parts[1] ?? 0, parts[2] ?? 0];
  const keyspace = new Map<number, number>();
  let fieldTtlKeys: number | null = null;
  for (const [name, value] of info) {
    const m = /^db(\d+)$/.exec(name);
    const keys = /keys=(\d+)/.exec(value);
    if (m && keys) keyspace.set(Number(m[1]), Number(keys[1]));
    const sub = /subexpiry=(\d+)/.exec(value);
    if (m && sub) fieldTtlKeys = (fieldTtlKeys ?? 0) + Number(sub[1]);
  }
  return {
    version,
    versionParts,
    rdbVersion: rdbVersionOf(versionParts),
    clusterEnabled: info.get('cluster_enabled') === '1',
    keyspace,
    fieldTtlKeys,
    usedMemory: Number(info.get('used_memory') ?? 0),
  };
}

/** The RDB version written by each Redis release line (from the release notes and rdb.h). */
export function rdbVersionOf([major, minor]: [number, number, number]): number {
  const v = major * 100 + minor;
  if (v >= 704) return 12;
  if (v >= 702) return 11;
  if (v >= 700) return 10;
  if (v >= 500) return 9;
  if (v >= 400) return 8;
  if (v >= 302) return 7;
  return 6;
}

export function atLeast(facts: ServerFacts, major: number, minor = 0): boolean {
  const [a, b] = facts.versionParts;
  return a > major || (a === major && b >= minor);
}
