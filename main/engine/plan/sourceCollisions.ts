import type { CollisionGroup } from '../../../shared/plan.js';
import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { replyArray, replyText } from '../resp/reply.js';
import { listShards } from '../run/sourceCopy.js';
import { hasHash, keyHash } from './keyHashes.js';
import { sameValue } from './sameValue.js';
import { keyText } from '../run/describeKey.js';

export interface Writer {
  source: string;
  endpoint: Endpoint;
  db: number;
  targetDb: number;
}

interface Holder {
  writer: Writer;
}

/**
 * Turns hash candidates into exact collisions: scans each writer (a source db) again, keeps the
 * keys whose hash is a candidate, groups them by their real bytes, and compares their DUMP
 * payloads so keys that hold the same value everywhere are told apart from real conflicts.
 */
export async function confirmSharedKeys(writers: Writer[], candidates: BigUint64Array, filter: KeyFilter, job: Job, samplesPerGroup: number): Promise<CollisionGroup[]> {
  const found = new Map<string, { key: Buffer; targetDb: number; holders: Holder[] }>();
  for (const writer of writers) {
    for (const key of await candidateKeys(writer, candidates, filter)) {
      const id = `${writer.targetDb}:${key.toString('hex')}`;
      let entry = found.get(id);
      if (!entry) found.set(id, (entry = { key, targetDb: writer.targetDb, holders: [] }));
      entry.holders.push({ writer });
    }
  }
  const groups = new Map<string, CollisionGroup>();
  for (const { key, targetDb, holders } of found.values()) {
    if (holders.length < 2) continue;
    const payloads = await Promise.all(holders.map(({ writer }) => writer.endpoint.call(writer.db, key, 'DUMP', key)));
    const first = payloads[0];
    let identical = Buffer.isBuffer(first) && payloads.every((p) => Buffer.isBuffer(p) && p.equals(first));
    if (!identical && payloads.every(Buffer.isBuffer)) {
      const [a, ...rest] = holders.map((h) => h.writer);
      identical = (await Promise.all(rest.map((b) => sameValue(a.endpoint, a.db, b.endpoint, b.db, key)))).every(Boolean);
    }
    // A source is named by itself, or with its db when two of its dbs hold the key (a db merge).
    const names = holders.map(({ writer }) =>
      holders.filter((h) => h.writer.source === writer.source).length > 1 ? `${writer.source} db ${writer.db}` : writer.source,
    );
    const id = `${targetDb}\u0000${names.join('\u0000')}`;
    let group = groups.get(id);
    if (!group) {
      group = { kind: 'between-sources', sources: names, targetDb, keys: 0, identical: 0, samples: [], consequence: betweenConsequence(job) };
      groups.set(id, group);
    }
    group.keys++;
    if (identical) group.identical++;
    addSample(group, key, identical, samplesPerGroup);
  }
  return [...groups.values()].sort((a, b) => b.keys - a.keys);
}

/** The writer's selected keys whose (target db, key) hash is a candidate. */
async function candidateKeys(writer: Writer, candidates: BigUint64Array, filter: KeyFilter): Promise<Buffer[]> {
  const { endpoint, db, targetDb } = writer;
  const out: Buffer[] = [];
  for (const shard of (await listShards(endpoint)).filter((s) => s.db === db)) {
    const conn = shard.node ? await endpoint.nodeConnection(shard.node.host, shard.node.port) : endpoint.dbConnection(db);
    let cursor = '0';
    do {
      const [next, keys] = replyArray(await conn.call(...filter.scanArgs(cursor, 1000)));
      cursor = replyText(next);
      const hits = (replyArray(keys) as Buffer[]).filter((k) => filter.matchesKey(k) && hasHash(candidates, keyHash(targetDb, k)));
      const types = await Promise.all(hits.map((k) => endpoint.call(db, k, 'TYPE', k)));
      hits.forEach((k, i) => filter.matchesType(replyText(types[i])) && out.push(k));
    } while (cursor !== '0');
  }
  return out;
}

function betweenConsequence(job: Job): string {
  switch (job.options.onConflict) {
    case 'fail':
      return 'onConflict: fail: the run stops when a second source writes one of these keys with a different value (equal values are fine)';
    case 'skip':
      return 'onConflict: skip: the first source to write a key wins and the others are skipped and listed (sources run in parallel, so which is first is not fixed)';
    default:
      return 'onConflict: replace: the last source to write a key wins (sources run in parallel, so which is last is not fixed)';
  }
}

/**
 * Keeps a group's first samples, but a key whose values differ takes the place of an identical one:
 * the differing keys are the ones the engineer needs to see.
 */
export function addSample(group: CollisionGroup, key: Buffer, identical: boolean, max: number): void {
  const sample = { key: keyText(key), keyHex: key.toString('hex'), identical };
  if (group.samples.length < max) group.samples.push(sample);
  else if (!identical) {
    const i = group.samples.findIndex((s) => s.identical);
    if (i >= 0) group.samples[i] = sample;
  }
}
