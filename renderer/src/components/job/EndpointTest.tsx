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
      {check.facts?.reachable && <LiveLatency name={name} />}
    </div>
  );
}

/** The endpoint's PING latency, live (endpoint.watch): this second's numbers and the last minute. */
function LiveLatency({ name }: { name: string }) {
  const points = useFerry((s) => s.job.watching[name]);
  const watching = points !== undefined;
  const last = points?.at(-1);
  return (
    <div className="live-latency">
      <button
        type="button"
        data-testid={`endpoint-watch-${name}`}
        aria-pressed={watching}
        onClick={() => (watching ? actions.unwatchEndpoint(name) : void actions.watchEndpoint(name))}
      >
        {watching ? 'Stop watching' : 'Watch latency'}
      </button>
      {watching && (
        <span data-testid={`endpoint-latency-${name}`} data-seconds={points.length}>
          {last ? `p50 ${formatMs(last.p50Ms)} · p99 ${formatMs(last.p99Ms)} · max ${formatMs(last.maxMs)}` : 'measuring…'}
          <Sparkline values={points.map((p) => p.p99Ms)} />
        </span>
      )}
    </div>
  );
}

/** The p99 of the last minute as a small line, scaled to its own maximum. */
function Sparkline({ values }: { values: number[] }) {
  const w = 120;
  const h = 24;
  if (values.length < 2) return null;
  const top = Math.max(...values, 0.001);
  const step = w / (values.length - 1);
  const d = values.map((v, i) => `${i === 0 ? 'M' : 'L'}${(i * step).toFixed(1)},${(h - (v / top) * (h - 2) - 1).toFixed(1)}`).join(' ');
  return (
    <svg className="sparkline" width={w} height={h} viewBox={`0 0 ${w} ${h}`} aria-label={`p99 of the last ${values.length} seconds, up to ${formatMs(top)}`}>
      <path d={d} fill="none" stroke="currentColor" strokeWidth="1.5" />
    </svg>
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
