import type { EndpointFacts } from '../../../shared/plan.js';

/** Policies under which Redis deletes keys once `maxmemory` is reached. */
const EVICTING = /^(allkeys|volatile)-/;

/**
 * What Ferry will do because of one endpoint's facts, each as a short sentence with its reason.
 * Pure: the same facts give the same sentences, so the plan reads the same in the CLI, the HTML
 * and the UI, and it can be tested without servers.
 */
export function decide(facts: EndpointFacts): string[] {
  if (!facts.reachable) {
    return [
      facts.role === 'source'
        ? 'not reachable: nothing of this source can be read or planned until the connection works'
        : 'not reachable: nothing can be written or checked on the target until the connection works',
    ];
  }
  const out: string[] = [];
  const c = (name: string) => facts.commands[name] ?? 'unknown';

  if (facts.mode === 'cluster') {
    const n = facts.nodes.length;
    const masters = `${n} master${n === 1 ? '' : 's'}`;
    out.push(
      facts.role === 'target'
        ? `cluster with ${masters}: keys routed by slot, one pipeline per master`
        : `cluster with ${masters}: read master by master, one SCAN per master`,
    );
  }

  if (facts.role === 'source') out.push(...sourceDecisions(facts, c));
  else out.push(...targetDecisions(facts, c));
  return out;
}

type Availability = (name: string) => 'allowed' | 'refused' | 'unknown';

function sourceDecisions(facts: EndpointFacts, c: Availability): string[] {
  const out: string[] = [];
  if (c('DUMP') === 'refused') out.push('DUMP refused: Ferry cannot read this source');
  else if (c('DUMP') === 'unknown') out.push('DUMP could not be checked: reading may fail at the first key');
  if (c('SCAN') === 'refused') out.push("SCAN refused: Ferry cannot list this source's keys");
  else if (c('SCAN') === 'unknown') out.push('SCAN could not be checked: listing the keys may fail');

  const sync = c('SYNC');
  const psync = c('PSYNC');
  const replication = sync === 'allowed' || psync === 'allowed';
  if (psync === 'allowed') {
    out.push('PSYNC allowed: a staging replica (stage: replica) can take one sync, and live changes can follow the replication stream');
  } else if (sync === 'allowed') {
    out.push(`PSYNC ${psync} but SYNC allowed: a staging replica can take one full sync, but must start over after a dropped connection`);
  } else if (sync === 'refused' && psync === 'refused') {
    out.push('SYNC and PSYNC refused: the source will be read by SCAN + DUMP (stage: replica cannot be used); ferry run --live follows it by keyspace notifications, best effort, and the cut-over verifies and repairs every key');
  } else {
    const unknown = [sync === 'unknown' ? 'SYNC' : null, psync === 'unknown' ? 'PSYNC' : null].filter(Boolean).join(' and ');
    out.push(`${unknown} could not be checked without running ${unknown.includes(' and ') ? 'them' : 'it'}: stage: replica may fail; SCAN + DUMP needs neither`);
  }

  if (!replication) out.push(notificationDecision(facts.notifyKeyspaceEvents));

  if (c('MEMORY') === 'refused') out.push('MEMORY USAGE refused: key sizes will be estimated from DUMP lengths');
  else if (c('MEMORY') === 'unknown') out.push('MEMORY USAGE could not be checked: key sizes may be estimated from DUMP lengths');
  return out;
}

/** Without replication, changes made during the move can only follow keyspace notifications. */
function notificationDecision(notify: string | null): string {
  if (notify === null) {
    return 'notify-keyspace-events cannot be read (CONFIG refused): without replication, whether changes made during the move can be followed is unknown';
  }
  if (notify === '') {
    return 'notify-keyspace-events is empty: without replication, changes made during the move cannot be followed; set it (e.g. KA) or stop writes before cut-over';
  }
  if (coversAllKeyChanges(notify)) {
    return `notify-keyspace-events is ${notify}: without replication, changes made during the move will follow keyspace notifications, which can lose events under load`;
  }
  return `notify-keyspace-events is ${notify}, which misses some changes: without replication, not every change made during the move can be followed; set it to KA or stop writes before cut-over`;
}

/** Keyspace (K) or keyevent (E) notifications for every kind of change a key can see. */
export function coversAllKeyChanges(notify: string): boolean {
  if (!/[KE]/.test(notify)) return false;
  return notify.includes('A') || [...'g$lshzxe'].every((flag) => notify.includes(flag));
}

function targetDecisions(facts: EndpointFacts, c: Availability): string[] {
  const out: string[] = [];
  if (c('RESTORE') === 'refused') out.push('RESTORE refused: Ferry cannot write to this target');
  else if (c('RESTORE') === 'unknown') out.push('RESTORE could not be checked harmlessly: the first write will show whether Ferry can write here');
  if (c('DUMP') === 'refused') {
    out.push('DUMP refused on the target: a key that already exists there cannot be compared with the source, so each such key fails (an empty target is not affected)');
  }
  const policy = facts.maxmemoryPolicy;
  const limited = facts.maxmemory !== 0;
  if (policy && limited && EVICTING.test(policy)) {
    out.push(
      policy.startsWith('allkeys-')
        ? `maxmemory-policy ${policy} on the target: keys may be evicted during the move`
        : `maxmemory-policy ${policy} on the target: keys with a TTL may be evicted during the move`,
    );
  } else if (policy === 'noeviction' && facts.maxmemory !== null && facts.maxmemory > 0) {
    out.push(`maxmemory ${formatBytes(facts.maxmemory)} with noeviction on the target: a write past the limit fails with OOM and stops the run`);
  }
  return out;
}

function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}
