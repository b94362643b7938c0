import { useState } from 'react';
import { formatBytes, formatCount, formatDuration, formatMs, formatPercent } from '../../../../shared/format.js';
import { TTL_BUCKETS, type BigKey, type PlanDocument, type PrefixNode } from '../../../../shared/plan.js';
import { TTL_LABELS, ttlTotals, typeTotals } from '../../util/planReport.js';
import { BarChart, ColumnChart } from '../charts.js';
import { VirtualTable, type Column } from '../VirtualTable.js';

export function Verdicts({ doc }: { doc: PlanDocument }) {
  const order = { blocker: 0, warn: 1, ok: 2 } as const;
  const sorted = doc.verdicts.slice().sort((a, b) => order[a.level] - order[b.level]);
  return (
    <ul className="verdicts" data-testid="plan-verdicts" data-blockers={doc.verdicts.filter((v) => v.level === 'blocker').length}>
      {sorted.map((v, i) => (
        <li key={i} data-testid="plan-verdict" data-level={v.level}>
          <span className={`badge lvl-${v.level}`}>{v.level}</span>
          <span className="muted">{v.topic}</span>
          <span>{v.message}</span>
        </li>
      ))}
    </ul>
  );
}

export function EndpointsTable({ doc }: { doc: PlanDocument }) {
  return (
    <table className="data" data-testid="plan-endpoints">
      <thead>
        <tr>
          <th>endpoint</th>
          <th>address</th>
          <th>version</th>
          <th>mode</th>
          <th className="num">memory</th>
          <th className="num">maxmemory</th>
          <th>policy</th>
          <th className="num">rtt</th>
          <th className="num">keys</th>
          <th>refused</th>
        </tr>
      </thead>
      <tbody>
        {doc.endpoints.map((e) => (
          <tr key={`${e.role}:${e.name}`} data-testid={`plan-endpoint-${e.name}`}>
            <td>
              {e.name} <span className="muted">{e.role}</span>
            </td>
            <td className="mono">{e.address}</td>
            {e.reachable ? (
              <>
                <td>{e.version ?? '--'}</td>
                <td>
                  {e.mode ?? '--'}
                  {e.mode === 'cluster' ? ` (${e.nodes.length})` : ''}
                </td>
                <td className="num">{e.usedMemory === null ? '--' : formatBytes(e.usedMemory)}</td>
                <td className="num">{e.maxmemory === null ? '--' : e.maxmemory === 0 ? 'no limit' : formatBytes(e.maxmemory)}</td>
                <td>{e.maxmemoryPolicy ?? '--'}</td>
                <td className="num">{formatMs(e.rttMs)}</td>
                <td className="num">{formatCount(e.keyspace.reduce((n, k) => n + k.keys, 0))}</td>
                <td>
                  {Object.entries(e.commands)
                    .filter(([, a]) => a === 'refused')
                    .map(([c]) => c)
                    .join(', ') || <span className="muted">none</span>}
                </td>
              </>
            ) : (
              <td colSpan={8} className="error">
                unreachable: {e.error ?? ''}
              </td>
            )}
          </tr>
        ))}
      </tbody>
    </table>
  );
}

export function SourcesTable({ doc }: { doc: PlanDocument }) {
  return (
    <table className="data" data-testid="plan-sources">
      <thead>
        <tr>
          <th>source</th>
          <th>dbs (source→target)</th>
          <th className="num">keys</th>
          <th className="num">memory</th>
          <th className="num">read keys/s</th>
          <th className="num">estimated</th>
        </tr>
      </thead>
      <tbody>
        {doc.sources.map((s) => (
          <tr key={s.name}>
            <td>{s.name}</td>
            <td>
              {s.dbs.map((d) => (
                <span key={d.db} title={`${formatCount(d.keys)} keys · ${formatBytes(d.bytes)} · analysed ${formatCount(d.analysed)} · ${d.memorySource}`} style={{ marginRight: 8 }}>
                  {d.db === d.targetDb ? d.db : `${d.db}→${d.targetDb}`}
                  <span className="muted"> ({formatCount(d.keys)})</span>
                </span>
              ))}
            </td>
            <td className="num">{formatCount(s.keys)}</td>
            <td className="num">{formatBytes(s.bytes)}</td>
            <td className="num">{s.readKeysPerSec === null ? '--' : formatCount(s.readKeysPerSec)}</td>
            <td className="num">{formatDuration(s.estimatedMs)}</td>
          </tr>
        ))}
        <tr>
          <td>
            <b>all</b>
          </td>
          <td />
          <td className="num">
            <b>{formatCount(doc.totals.keys)}</b>
          </td>
          <td className="num">
            <b>{formatBytes(doc.totals.bytes)}</b>
          </td>
          <td />
          <td className="num">
            <b>{formatDuration(doc.totals.estimatedMs)}</b>
          </td>
        </tr>
      </tbody>
    </table>
  );
}

export function Charts({ doc }: { doc: PlanDocument }) {
  const types = typeTotals(doc);
  const ttl = ttlTotals(doc);
  return (
    <div className="charts">
      <BarChart title="Memory by type" testId="plan-chart-memory" items={types.map((t) => ({ label: t.type, value: t.bytes, text: formatBytes(t.bytes) }))} />
      <BarChart title="Keys by type" testId="plan-chart-keys" items={types.map((t) => ({ label: t.type, value: t.keys, text: formatCount(t.keys) }))} />
      <ColumnChart title="TTLs" testId="plan-chart-ttl" items={TTL_BUCKETS.map((b) => ({ label: TTL_LABELS[b], value: ttl[b], text: formatCount(ttl[b]) }))} />
    </div>
  );
}

function TreeNode({ node, total, depth }: { node: PrefixNode; total: number; depth: number }) {
  const [open, setOpen] = useState(false);
  const has = node.children.length > 0;
  return (
    <li>
      <div className="node" data-testid="prefix-node" style={{ paddingLeft: depth * 4 }}>
        <span>
          {has ? (
            <button type="button" className="toggle" aria-expanded={open} aria-label={`${open ? 'Collapse' : 'Expand'} ${node.prefix}`} onClick={() => setOpen(!open)}>
              {open ? '▾' : '▸'}
            </button>
          ) : (
            <span className="leaf" />
          )}
          <span className="mono">{node.prefix}</span>
        </span>
        <span className="num" style={{ textAlign: 'right' }}>
          {formatCount(node.keys)}
        </span>
        <span className="num" style={{ textAlign: 'right' }}>
          {formatBytes(node.bytes)}
        </span>
        <span className="muted" style={{ textAlign: 'right' }} title="share of the source's memory">
          {formatPercent(node.bytes, total)}
        </span>
      </div>
      {open && has && (
        <ul className="tree">
          {node.children.map((c) => (
            <TreeNode key={c.prefix} node={c} total={total} depth={depth + 1} />
          ))}
        </ul>
      )}
    </li>
  );
}

export function PrefixTrees({ doc }: { doc: PlanDocument }) {
  return (
    <div data-testid="plan-prefixes">
      {doc.sources.map((s) => (
        <div key={s.name} style={{ marginBottom: 8 }}>
          <div className="muted">{s.name}</div>
          {s.prefixTree.length === 0 ? (
            <span className="muted">no prefixes</span>
          ) : (
            <ul className="tree root">
              {s.prefixTree.map((n) => (
                <TreeNode key={n.prefix} node={n} total={s.bytes} depth={0} />
              ))}
            </ul>
          )}
        </div>
      ))}
    </div>
  );
}

const BIG_KEY_COLUMNS: ReadonlyArray<Column<BigKey>> = [
  { key: 'source', label: 'source', width: '110px', render: (k) => k.source, sort: (k) => k.source },
  { key: 'db', label: 'db', width: '40px', num: true, render: (k) => k.db, sort: (k) => k.db },
  { key: 'key', label: 'key', width: 'minmax(0, 2fr)', render: (k) => <span className="mono">{k.key}</span>, sort: (k) => k.key, title: (k) => k.key },
  { key: 'type', label: 'type', width: '60px', render: (k) => k.type, sort: (k) => k.type },
  { key: 'bytes', label: 'size', width: '80px', num: true, render: (k) => formatBytes(k.bytes), sort: (k) => k.bytes },
  { key: 'elements', label: 'elements', width: '90px', num: true, render: (k) => formatCount(k.elements), sort: (k) => k.elements },
  { key: 'strategy', label: 'strategy', width: 'minmax(0, 1.3fr)', render: (k) => k.strategy, sort: (k) => k.strategy, title: (k) => k.strategy },
  { key: 'stall', label: 'RESTORE stall', width: '100px', num: true, render: (k) => formatMs(k.restoreStallMs), sort: (k) => k.restoreStallMs },
];

export function BigKeys({ doc }: { doc: PlanDocument }) {
  return (
    <VirtualTable
      label="Big keys"
      testId="plan-bigkeys"
      rowTestId="bigkey-row"
      rows={doc.bigKeys}
      columns={BIG_KEY_COLUMNS}
      rowKey={(k) => `${k.source}/${k.db}/${k.keyHex}`}
      initialSort={{ key: 'bytes', desc: true }}
      height={300}
    />
  );
}

export function Collisions({ doc }: { doc: PlanDocument }) {
  const c = doc.collisions;
  return (
    <div data-testid="plan-collisions" data-between={c.betweenSources} data-with-target={c.withTarget}>
      <p className="kv">
        <span>
          <b>{formatCount(c.betweenSources)}</b> keys written by more than one source
        </span>
        <span>
          <b>{formatCount(c.withTarget)}</b> keys already on the target
        </span>
      </p>
      {c.groups.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>kind</th>
              <th>sources</th>
              <th className="num">target db</th>
              <th className="num">keys</th>
              <th className="num">identical</th>
              <th>samples</th>
              <th>what happens</th>
            </tr>
          </thead>
          <tbody>
            {c.groups.map((g, i) => (
              <tr key={i}>
                <td>{g.kind}</td>
                <td>{g.sources.join(', ')}</td>
                <td className="num">{g.targetDb}</td>
                <td className="num">{formatCount(g.keys)}</td>
                <td className="num">{formatCount(g.identical)}</td>
                <td className="mono">
                  {g.samples.slice(0, 3).map((s) => (
                    <div key={s.keyHex}>
                      {s.key}
                      {s.identical ? <span className="muted"> (same)</span> : ''}
                    </div>
                  ))}
                </td>
                <td>{g.consequence}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}

export function Capacity({ doc }: { doc: PlanDocument }) {
  const c = doc.capacity;
  const max = (m: number | null) => (m === null ? '--' : m === 0 ? 'no limit' : formatBytes(m));
  return (
    <div data-testid="plan-capacity">
      <p className="kv">
        <span>target uses {c.targetUsed === null ? '--' : formatBytes(c.targetUsed)}</span>
        <span>the move adds {formatBytes(c.planned)}</span>
        <span>maxmemory {max(c.maxmemory)}</span>
      </p>
      {c.perNode.length > 0 && (
        <table className="data">
          <thead>
            <tr>
              <th>master</th>
              <th className="num">used</th>
              <th className="num">planned</th>
              <th className="num">maxmemory</th>
            </tr>
          </thead>
          <tbody>
            {c.perNode.map((n) => (
              <tr key={n.address}>
                <td className="mono">{n.address}</td>
                <td className="num">{n.used === null ? '--' : formatBytes(n.used)}</td>
                <td className="num">{formatBytes(n.planned)}</td>
                <td className="num">{max(n.maxmemory)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {doc.staging.length > 0 && (
        <table className="data" style={{ marginTop: 6 }}>
          <thead>
            <tr>
              <th>staged source</th>
              <th className="num">needs</th>
              <th className="num">free</th>
              <th>dir</th>
            </tr>
          </thead>
          <tbody>
            {doc.staging.map((s) => (
              <tr key={s.source}>
                <td>{s.source}</td>
                <td className="num">{formatBytes(s.bytesNeeded)}</td>
                <td className="num">{s.freeBytes === null ? '--' : formatBytes(s.freeBytes)}</td>
                <td className="mono">{s.dir}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
