import { formatBytes, formatCount, formatDuration } from '../../../../shared/format.js';
import { useFerry } from '../../appState.js';
import { stagingPercent, percentOf } from '../../store/common.js';
import { ProgressBar } from '../ProgressBar.js';

/** One source: re-renders on its own events only (it selects its own row). */
function RunRow({ name }: { name: string }) {
  const row = useFerry((s) => s.run.sources[name]);
  const staging = useFerry((s) => s.run.staging[name]);
  if (!row) return null;
  const stagingPct = stagingPercent(staging);
  let stageText: string = row.stage;
  if (row.stage === 'staging' && stagingPct !== null) stageText = `staging ${stagingPct}%`;
  if (row.stage === 'verifying' && row.verify) stageText = `verifying ${percentOf(row.verify.compared, row.verify.total)}%`;
  const tone = row.stage === 'done' ? 'done' : row.stage === 'failed' ? 'failed' : undefined;
  const active = row.stage === 'copying' || row.stage === 'reconnecting';
  return (
    <tr data-testid={`run-row-${name}`} data-progress={row.progress} data-stage={row.stage} data-staging={stagingPct ?? ''}>
      <td>{name}</td>
      <td className={`st-${row.stage}`} title={row.message ?? ''}>
        {stageText}
      </td>
      <td style={{ width: '26%' }}>
        {row.stage === 'staging' && stagingPct !== null ? (
          <ProgressBar percent={stagingPct} label={`staging ${stagingPct}%`} />
        ) : (
          <ProgressBar percent={row.progress} tone={tone} />
        )}
      </td>
      <td className="num">
        {formatCount(row.counts.scanned)}
        <span className="muted"> / {row.total > 0 ? formatCount(row.total) : '?'}</span>
      </td>
      <td className="num">{formatCount(row.counts.written)}</td>
      <td className="num">{active ? formatCount(row.keysPerSec) : '--'}</td>
      <td className="num">{active ? (row.bytesPerSec / (1024 * 1024)).toFixed(1) : '--'}</td>
      <td className="num">{row.stage === 'done' ? '--' : formatDuration(row.etaMs)}</td>
      <td className="num">{formatBytes(row.counts.bytes)}</td>
      <td className={`num ${row.counts.errors > 0 ? 'error' : ''}`}>{formatCount(row.counts.errors)}</td>
    </tr>
  );
}

export function RunRows() {
  const order = useFerry((s) => s.run.order);
  if (order.length === 0) return <p className="muted">No run yet. Start copies every selected key of every source into the target.</p>;
  return (
    <table className="data runrows" data-testid="run-rows">
      <thead>
        <tr>
          <th>source</th>
          <th>stage</th>
          <th>progress</th>
          <th className="num">keys</th>
          <th className="num">written</th>
          <th className="num">keys/s</th>
          <th className="num">MB/s</th>
          <th className="num">ETA</th>
          <th className="num">bytes</th>
          <th className="num">errors</th>
        </tr>
      </thead>
      <tbody>
        {order.map((name) => (
          <RunRow key={name} name={name} />
        ))}
      </tbody>
    </table>
  );
}
