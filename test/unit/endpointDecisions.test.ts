import { describe, expect, it } from 'vitest';
import { PROBED_COMMANDS, type CommandAvailability, type EndpointFacts } from '../../shared/plan.js';
import { coversAllKeyChanges, decide } from '../../main/engine/plan/endpointDecisions.js';

const everything = (availability: CommandAvailability) => Object.fromEntries(PROBED_COMMANDS.map((c) => [c, availability]));

function facts(over: Partial<EndpointFacts> = {}, commands: Record<string, CommandAvailability> = {}): EndpointFacts {
  return {
    role: 'source',
    name: 'idc-01',
    address: '10.0.0.11:6379',
    reachable: true,
    rttMs: 0.4,
    version: '7.0.15',
    rdbVersion: 10,
    mode: 'standalone',
    nodes: [],
    usedMemory: 1_000_000,
    maxmemory: 0,
    maxmemoryPolicy: 'noeviction',
    keyspace: [{ db: 0, keys: 10, expires: 2 }],
    commands: { ...everything('allowed'), ...commands },
    notifyKeyspaceEvents: '',
    decisions: [],
    ...over,
  };
}

const source = (commands: Record<string, CommandAvailability> = {}, over: Partial<EndpointFacts> = {}) => decide(facts(over, commands));
const target = (commands: Record<string, CommandAvailability> = {}, over: Partial<EndpointFacts> = {}) => decide(facts({ role: 'target', name: 'target', ...over }, commands));

describe('decide: sources', () => {
  it('everything allowed: the replication path, and nothing else to say', () => {
    expect(source()).toEqual(['PSYNC allowed: a staging replica (stage: replica) can take one sync, and live changes can follow the replication stream']);
  });

  it('SYNC and PSYNC refused: SCAN + DUMP, and the empty notify-keyspace-events matters now', () => {
    const d = source({ SYNC: 'refused', PSYNC: 'refused' });
    expect(d).toContain('SYNC and PSYNC refused: the source will be read by SCAN + DUMP (stage: replica cannot be used); ferry run --live follows it by keyspace notifications, best effort, and the cut-over verifies and repairs every key');
    expect(d.some((s) => s.startsWith('notify-keyspace-events is empty: without replication'))).toBe(true);
  });

  it('notify-keyspace-events is mentioned only where replication is not available', () => {
    expect(source({}, { notifyKeyspaceEvents: '' }).join('\n')).not.toMatch(/notify-keyspace-events/);
    expect(source({ SYNC: 'refused', PSYNC: 'refused' }, { notifyKeyspaceEvents: 'KEA' }).join('\n')).toMatch(
      /notify-keyspace-events is KEA: without replication, changes made during the move will follow keyspace notifications, which can lose events/,
    );
    expect(source({ SYNC: 'refused', PSYNC: 'refused' }, { notifyKeyspaceEvents: 'Ex' }).join('\n')).toMatch(/notify-keyspace-events is Ex, which misses some changes/);
    expect(source({ SYNC: 'refused', PSYNC: 'refused', CONFIG: 'refused' }, { notifyKeyspaceEvents: null }).join('\n')).toMatch(
      /notify-keyspace-events cannot be read \(CONFIG refused\)/,
    );
  });

  it('only SYNC allowed: a full sync works, resuming does not', () => {
    expect(source({ PSYNC: 'refused' })[0]).toBe('PSYNC refused but SYNC allowed: a staging replica can take one full sync, but must start over after a dropped connection');
  });

  it('SYNC/PSYNC unknown: says they could not be checked, never that they are allowed', () => {
    const d = source({ SYNC: 'unknown', PSYNC: 'unknown' });
    expect(d).toContain('SYNC and PSYNC could not be checked without running them: stage: replica may fail; SCAN + DUMP needs neither');
    expect(source({ SYNC: 'refused', PSYNC: 'unknown' })).toContain('PSYNC could not be checked without running it: stage: replica may fail; SCAN + DUMP needs neither');
  });

  it('DUMP refused: cannot be read; SCAN refused: cannot be listed', () => {
    expect(source({ DUMP: 'refused' })).toContain('DUMP refused: Ferry cannot read this source');
    expect(source({ SCAN: 'refused' })).toContain("SCAN refused: Ferry cannot list this source's keys");
  });

  it('MEMORY refused: sizes from DUMP lengths', () => {
    expect(source({ MEMORY: 'refused' })).toContain('MEMORY USAGE refused: key sizes will be estimated from DUMP lengths');
  });

  it('a cluster source is read master by master', () => {
    const nodes = [1, 2, 3].map((i) => ({ address: `10.0.0.${i}:6379`, slots: 5461, usedMemory: 1, maxmemory: 0 }));
    expect(source({}, { mode: 'cluster', nodes })[0]).toBe('cluster with 3 masters: read master by master, one SCAN per master');
  });

  it('target-only facts say nothing on a source (eviction, RESTORE)', () => {
    expect(source({ RESTORE: 'refused' }, { maxmemory: 1 << 30, maxmemoryPolicy: 'allkeys-lru' }).join('\n')).not.toMatch(/RESTORE|evict/);
  });
});

describe('decide: targets', () => {
  it('everything allowed, no limit: nothing to say', () => {
    expect(target()).toEqual([]);
  });

  it('RESTORE refused: cannot write; unknown: the first write tells', () => {
    expect(target({ RESTORE: 'refused' })).toContain('RESTORE refused: Ferry cannot write to this target');
    expect(target({ RESTORE: 'unknown' })[0]).toMatch(/^RESTORE could not be checked harmlessly/);
  });

  it('source-only facts say nothing on a target (SYNC, DUMP-as-reader, MEMORY, notifications)', () => {
    const d = target({ SYNC: 'refused', PSYNC: 'refused', MEMORY: 'refused', CONFIG: 'refused' }, { notifyKeyspaceEvents: null }).join('\n');
    expect(d).not.toMatch(/SYNC|MEMORY|notify/);
  });

  it('DUMP refused on the target: existing keys cannot be compared', () => {
    expect(target({ DUMP: 'refused' })[0]).toMatch(/^DUMP refused on the target: a key that already exists there cannot be compared/);
  });

  it('evicting policies warn, when there is a limit', () => {
    expect(target({}, { maxmemory: 1 << 30, maxmemoryPolicy: 'allkeys-lru' })).toEqual(['maxmemory-policy allkeys-lru on the target: keys may be evicted during the move']);
    expect(target({}, { maxmemory: 1 << 30, maxmemoryPolicy: 'volatile-ttl' })).toEqual([
      'maxmemory-policy volatile-ttl on the target: keys with a TTL may be evicted during the move',
    ]);
    // An unknown limit with an evicting policy still warns; no limit does not.
    expect(target({}, { maxmemory: null, maxmemoryPolicy: 'allkeys-lfu' })).toHaveLength(1);
    expect(target({}, { maxmemory: 0, maxmemoryPolicy: 'allkeys-lru' })).toEqual([]);
  });

  it('noeviction with a limit: OOM stops the run', () => {
    expect(target({}, { maxmemory: 2 * 1024 ** 3, maxmemoryPolicy: 'noeviction' })).toEqual([
      'maxmemory 2.0 GB with noeviction on the target: a write past the limit fails with OOM and stops the run',
    ]);
  });

  it('a cluster target: routed by slot, one pipeline per master', () => {
    const nodes = [1, 2, 3].map((i) => ({ address: `10.0.0.${i}:6379`, slots: 5461, usedMemory: 1, maxmemory: 0 }));
    expect(target({}, { mode: 'cluster', nodes })).toEqual(['cluster with 3 masters: keys routed by slot, one pipeline per master']);
  });
});

describe('decide: unreachable endpoints', () => {
  it('one sentence, and nothing about commands it could not check', () => {
    const down = { reachable: false, error: 'source idc-01 (10.0.0.11:6379): cannot connect', commands: everything('unknown'), mode: null, version: null };
    expect(decide(facts(down))).toEqual(['not reachable: nothing of this source can be read or planned until the connection works']);
    expect(decide(facts({ ...down, role: 'target' }))).toEqual(['not reachable: nothing can be written or checked on the target until the connection works']);
  });
});

describe('coversAllKeyChanges', () => {
  it('needs K or E and every class of change', () => {
    expect(coversAllKeyChanges('KEA')).toBe(true);
    expect(coversAllKeyChanges('KA')).toBe(true);
    expect(coversAllKeyChanges('Kg$lshzxe')).toBe(true);
    expect(coversAllKeyChanges('A')).toBe(false);
    expect(coversAllKeyChanges('Ex')).toBe(false);
    expect(coversAllKeyChanges('')).toBe(false);
  });
});
