import { useState } from 'react';
import { formatCount, formatDuration } from '../../../shared/format.js';
import { DifferenceKind } from '../../../shared/events.js';
import { actions, useFerry } from '../appState.js';
import { DifferenceTable, VerifyProgress } from '../components/VerifyParts.js';
import { TunnelList } from '../components/TunnelList.js';
import { totalDifferences } from '../store/verifySlice.js';

function VerifySummaryView() {
  const summary = useFerry((s) => s.verify.summary);
  if (!summary) return null;
  const diff = totalDifferences(summary);
  return (
    <div className="panel" data-testid="verify-summary" data-differences={diff} data-compared={summary.compared} data-equal={summary.equal}>
      <h2 className={diff > 0 ? 'error' : 'okText'}>{diff === 0 ? 'Every compared key is equal.' : `${formatCount(diff)} difference${diff === 1 ? '' : 's'}`}</h2>
      <p className="kv">
        <span>
          <b>{formatCount(summary.compared)}</b> compared
        </span>
        <span>
          <b>{formatCount(summary.equal)}</b> equal
        </span>
        {DifferenceKind.options.map((k) => (
          <span key={k} data-testid={`verify-kind-${k}`} className={summary.differences[k] > 0 ? 'error' : 'muted'}>
            {k} <b>{formatCount(summary.differences[k])}</b>
          </span>
        ))}
        <span className="muted">kept by policy {formatCount(summary.keptByPolicy)}</span>
        <span className="muted">vanished {formatCount(summary.vanished)}</span>
        {summary.elapsedMs !== null && <span className="muted">took {formatDuration(summary.elapsedMs)}</span>}
      </p>
    </div>
  );
}

export function VerifyScreen() {
  const status = useFerry((s) => s.verify.status);
  const error = useFerry((s) => s.verify.error);
  const differences = useFerry((s) => s.verify.differences);
  const count = useFerry((s) => s.verify.differenceCount);
  const warnings = useFerry((s) => s.verify.warnings);
  const tunnels = useFerry((s) => s.verify.tunnels);
  const broken = useFerry((s) => s.job.syntaxError !== null);
  const [tolerance, setTolerance] = useState('1000');
  const tol = Number(tolerance);
  return (
    <section aria-label="Verify">
      <div className="toolbar">
        <button
          type="button"
          className="primary"
          data-testid="verify-start"
          disabled={status === 'running' || broken || !(tol >= 0)}
          onClick={() => void actions.runVerify(tol)}
        >
          {status === 'running' ? 'Verifying…' : 'Verify'}
        </button>
        <button type="button" data-testid="verify-cancel" disabled={status !== 'running'} onClick={() => actions.cancelVerify()}>
          Cancel
        </button>
        <label htmlFor="ttl-tolerance">TTL tolerance (ms)</label>
        <input id="ttl-tolerance" data-testid="verify-ttl-tolerance" value={tolerance} onChange={(e) => setTolerance(e.target.value)} style={{ width: 80 }} inputMode="numeric" />
        <span data-testid="verify-status" data-status={status} className={`badge st-${status === 'running' ? 'running' : status === 'done' ? 'done' : status === 'failed' ? 'failed' : 'idle'}`}>
          {status}
        </span>
        <span className="muted">Compares every selected source key with the target.</span>
      </div>
      {error && (
        <p className="error" data-testid="verify-error">
          {error}
        </p>
      )}
      <TunnelList tunnels={tunnels} />
      <VerifySummaryView />
      <div className="panel">
        <VerifyProgress testId="verify-progress" rowTestId="verify-row" />
        {status === 'idle' && <p className="muted">Not verified yet.</p>}
      </div>
      {(differences.length > 0 || status === 'done') && (
        <div className="panel">
          <h3>
            Differences ({formatCount(count)}
            {count > differences.length ? `, the last ${formatCount(differences.length)} listed` : ''})
          </h3>
          <DifferenceTable testId="verify-differences" rows={differences} />
        </div>
      )}
      {warnings.length > 0 && (
        <div className="panel">
          <h3>Warnings</h3>
          <ul className="list" data-testid="verify-warnings">
            {warnings.map((w) => (
              <li key={w.id} className="warnText">
                {w.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </section>
  );
}
