import { formatCount } from '../../../shared/format.js';
import { useFerry } from '../appState.js';
import type { DifferenceRow } from '../store/verifySlice.js';
import { displayKey } from '../util/keys.js';
import { ProgressBar } from './ProgressBar.js';
import { VirtualTable, type Column } from './VirtualTable.js';

const DIFF_COLUMNS: ReadonlyArray<Column<DifferenceRow>> = [
  { key: 'source', label: 'source', width: '110px', render: (d) => d.source, sort: (d) => d.source },
  { key: 'db', label: 'db → target', width: '90px', render: (d) => (d.db === d.targetDb ? `${d.db}` : `${d.db} → ${d.targetDb}`), sort: (d) => d.db },
  {
    key: 'key',
    label: 'key',
    width: 'minmax(0, 2fr)',
    render: (d) => {
      const k = displayKey(d.keyHex);
      return <span className={`mono ${k.printable ? '' : 'muted'}`}>{k.text}</span>;
    },
    sort: (d) => displayKey(d.keyHex).text,
    title: (d) => displayKey(d.keyHex).text,
  },
  { key: 'kind', label: 'kind', width: '70px', render: (d) => <span className="error">{d.kind}</span>, sort: (d) => d.kind },
  { key: 'detail', label: 'detail', width: 'minmax(0, 2fr)', render: (d) => d.detail, title: (d) => d.detail },
];

/** The differences a verify found (the Verify screen's, a cut-over's): virtualised, sortable. */
export function DifferenceTable({ rows, testId, height = 320 }: { rows: readonly DifferenceRow[]; testId: string; height?: number }) {
  return <VirtualTable label="Differences" testId={testId} rowTestId="difference-row" rows={rows} columns={DIFF_COLUMNS} rowKey={(d) => d.id} height={height} />;
}

function VerifyRow({ source, rowTestId }: { source: string; rowTestId: string }) {
  const p = useFerry((s) => s.verify.progress[source]);
  if (!p) return null;
  return (
    <tr data-testid={`${rowTestId}-${source}`} data-progress={p.percent}>
      <td>{source}</td>
      <td style={{ width: '40%' }}>
        <ProgressBar percent={p.percent} tone={p.percent === 100 ? 'done' : undefined} />
      </td>
      <td className="num">
        {formatCount(p.compared)} <span className="muted">/ {formatCount(p.total)}</span>
      </td>
      <td className={`num ${p.differences > 0 ? 'error' : ''}`}>{formatCount(p.differences)}</td>
    </tr>
  );
}

/** The verify's progress per source (verify.run's, or a cut-over's); a row's test id is `rowTestId-SOURCE`. */
export function VerifyProgress({ testId, rowTestId }: { testId: string; rowTestId: string }) {
  const order = useFerry((s) => s.verify.order);
  if (order.length === 0) return null;
  return (
    <table className="data" data-testid={testId}>
      <thead>
        <tr>
          <th>source</th>
          <th>progress</th>
          <th className="num">compared</th>
          <th className="num">differences</th>
        </tr>
      </thead>
      <tbody>
        {order.map((s) => (
          <VerifyRow key={s} source={s} rowTestId={rowTestId} />
        ))}
      </tbody>
    </table>
  );
}
