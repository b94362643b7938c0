import { actions, useFerry } from '../../appState.js';
import { formatBytes, formatCount, formatMs } from '../../../../shared/format.js';
import type { EndpointFacts } from '../../../../shared/plan.js';

export function EndpointTestButton({ name }: { name: string }) {
  const status = useFerry((s) => s.job.endpoints[name]?.status);
  const broken = useFerry((s) => s.job.syntaxError !== null);
  return (
    <button type="button" data-testid={`endpoint-test-${name}`} disabled={status === 'testing' || broken} onClick={() => void actions.testEndpoint(name)}>
      {status === 'testing' ? 'Testing…' : 'Test'}
    </button>
  );
}

/** What endpoint.test found: version, mode, memory, keyspace, allowed commands, round trip. */
export function EndpointFactsView({ name }: { name: string }) {
  const check = useFerry((s) => s.job.endpoints[name]);
  if (!check || (check.status === 'testing' && !check.facts)) return null;
  return (
    <div className="facts" data-testid={`endpoint-facts-${name}`} data-status={check.status} data-reachable={check.facts?.reachable ? 'true' : 'false'}>
      {check.error && <div className="error">{check.error}</div>}
      {check.facts && check.facts.reachable && <Facts facts={check.facts} />}
    </div>
  );
}

function Facts({ facts }: { facts: EndpointFacts }) {
  const mem = facts.usedMemory === null ? '--' : formatBytes(facts.usedMemory);
  const max = facts.maxmemory === null ? 'unknown' : facts.maxmemory === 0 ? 'no limit' : formatBytes(facts.maxmemory);
  return (
    <dl>
      <dt>address</dt>
      <dd className="mono">{facts.address}</dd>
      <dt>version</dt>
      <dd>
        {facts.version ?? '--'} {facts.rdbVersion !== null && <span className="muted">(RDB {facts.rdbVersion})</span>}
      </dd>
      <dt>mode</dt>
      <dd>
        {facts.mode ?? '--'}
        {facts.mode === 'cluster' && ` · ${facts.nodes.length} masters`}
      </dd>
      <dt>memory</dt>
      <dd>
        {mem} of {max}
        {facts.maxmemoryPolicy && <span className="muted"> · {facts.maxmemoryPolicy}</span>}
      </dd>
      <dt>round trip</dt>
      <dd>{formatMs(facts.rttMs)}</dd>
      <dt>keyspace</dt>
      <dd>
        {facts.keyspace.length === 0
          ? 'empty'
          : facts.keyspace.map((k) => `db${k.db}: ${formatCount(k.keys)} keys (${formatCount(k.expires)} with TTL)`).join(' · ')}
      </dd>
      <dt>commands</dt>
      <dd className="cmds">
        {Object.entries(facts.commands).map(([cmd, a]) => (
          <span key={cmd} className={`cmd ${a}`} title={a}>
            {cmd}
          </span>
        ))}
      </dd>
      {facts.decisions.length > 0 && (
        <>
          <dt>Ferry will</dt>
          <dd>
            {facts.decisions.map((d) => (
              <div key={d}>{d}</div>
            ))}
          </dd>
        </>
      )}
    </dl>
  );
}
