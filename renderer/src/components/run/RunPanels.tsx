import { formatBytes, formatCount, formatDuration, formatMs } from '../../../../shared/format.js';
import type { KeyCounts } from '../../../../shared/events.js';
import { actions, useFerry } from '../../appState.js';
import { displayKey } from '../../util/keys.js';
import { TunnelList } from '../TunnelList.js';
import { LatencyChart } from './LatencyChart.js';
import { ProgressBar } from '../ProgressBar.js';

export function RunControls() {
  const status = useFerry((s) => s.run.status);
  const pending = useFerry((s) => s.run.pending);
  const runId = useFerry((s) => s.run.runId);
  const broken = useFerry((s) => s.job.syntaxError !== null);
  const liveMode = useFerry((s) => s.run.liveMode);
  const running = status === 'running';
  return (
    <div className="toolbar">
      <button type="button" className="primary" data-testid="run-start" disabled={running || pending !== null || broken} onClick={() => void actions.startRun(false)}>
        {pending === 'start' && !liveMode ? 'Starting…' : 'Start'}
      </button>
      <button
        type="button"
        data-testid="run-start-live"
        disabled={running || pending !== null || broken}
        onClick={() => void actions.startRun(false, true)}
        title="Copy every source, then keep following its replication stream until paused or cancelled; cut over when ready"
      >
        {pending === 'start' && liveMode ? 'Starting…' : 'Run live'}
      </button>
      <button
        type="button"
        data-testid="run-start-resume"
        disabled={running || pending !== null || broken}
        onClick={() => void actions.startRun(true)}
        title="Continue the job's last checkpoint (a killed run, a dropped connection)"
      >
        Start from checkpoint
      </button>
      <button
        type="button"
        data-testid="run-pause"
        disabled={!running || !runId || pending !== null}
        onClick={() => void actions.pauseRun()}
        title={liveMode ? "Stops following the sources; each node's replication offset is kept for Resume" : 'Stops after the keys in flight; the checkpoint is kept for Resume'}
      >
        {pending === 'pause' ? 'Pausing…' : 'Pause'}
      </button>
      <button type="button" data-testid="run-resume" disabled={status !== 'paused' || pending !== null} onClick={() => void actions.resumeRun()}>
        {pending === 'resume' ? 'Resuming…' : 'Resume'}
      </button>
      <button type="button" className="danger" data-testid="run-cancel" disabled={!((running && runId) || status === 'paused') || pending === 'cancel'} onClick={() => void actions.cancelRun()}>
        {pending === 'cancel' ? 'Cancelling…' : 'Cancel'}
      </button>
      <span data-testid="run-status" data-status={status} data-live={liveMode} className={`badge st-${status}`}>
        {status}
      </span>
      {liveMode && <span className="badge st-live">live</span>}
      {runId && <span className="muted mono">{runId}</span>}
    </div>
  );
}

export function RunHeader() {
  const job = useFerry((s) => s.run.job);
  const target = useFerry((s) => s.run.target);
  const resumed = useFerry((s) => s.run.resumed);
  const error = useFerry((s) => s.run.error);
  const tunnels = useFerry((s) => s.run.tunnels);
  return (
    <>
      {job && (
        <p className="muted">
          {job} → <span className="mono">{target}</span>
          {resumed && ' · resumed from its checkpoint'}
        </p>
      )}
      {error && (
        <p className="error" data-testid="run-error">
          {error}
        </p>
      )}
      <TunnelList tunnels={tunnels} testId="run-tunnels" />
    </>
  );
}

export function LatencyCharts() {
  const endpoints = useFerry((s) => s.run.latencyOrder);
  if (endpoints.length === 0) return null;
  return (
    <div className="charts-latency" data-testid="latency-charts">
      {endpoints.map((e) => (
        <LatencyChart key={e} endpoint={e} />
      ))}
    </div>
  );
}

/** Big keys in windows: one bar per key, elements (bytes for a string) done of the total. */
export function BigKeyProgressPanel() {
  const progress = useFerry((s) => s.run.bigKeyProgress);
  const entries = Object.values(progress);
  if (entries.length === 0) return null;
  return (
    <div className="panel" data-testid="run-bigkey-progress">
      <h3>Big keys in windows ({entries.length})</h3>
      <table className="data">
        <thead>
          <tr>
            <th>source</th>
            <th>db</th>
            <th>key</th>
            <th>type</th>
            <th style={{ width: '40%' }}>progress</th>
            <th className="num">done</th>
          </tr>
        </thead>
        <tbody>
          {entries.map((b) => {
            const k = displayKey(b.keyHex);
            return (
              <tr key={`${b.source} ${b.db} ${b.keyHex}`} data-testid="bigkey-progress-row" data-progress={b.progress}>
                <td>{b.source}</td>
                <td>{b.db}</td>
                <td className="mono">{k.text}</td>
                <td>{b.keyType}</td>
                <td>
                  <ProgressBar percent={b.progress} tone={b.progress >= 100 ? 'done' : undefined} />
                </td>
                <td className="num">
                  {b.unit === 'bytes' ? `${formatBytes(b.done)} / ${formatBytes(b.total)}` : `${formatCount(b.done)} / ${formatCount(b.total)}`}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

export function RunNotices() {
  const bigKeys = useFerry((s) => s.run.bigKeyWarnings);
  const warnings = useFerry((s) => s.run.warnings);
  const keyErrors = useFerry((s) => s.run.keyErrors);
  const keyErrorCount = useFerry((s) => s.run.keyErrorCount);
  if (bigKeys.length + warnings.length + keyErrors.length === 0) return null;
  return (
    <div className="cols-2">
      <div className="panel">
        <h3>Big keys ({bigKeys.length})</h3>
        <ul className="list" data-testid="run-bigkey-warnings">
          {bigKeys.map((w) => (
            <li key={w.id}>
              {w.source && <b>{w.source}: </b>}
              {w.message}
            </li>
          ))}
        </ul>
        <h3>Warnings ({warnings.length})</h3>
        <ul className="list" data-testid="run-warnings">
          {warnings.map((w) => (
            <li key={w.id} className="warnText">
              {w.source && <b>{w.source}: </b>}
              {w.message}
            </li>
          ))}
        </ul>
      </div>
      <div className="panel">
        <h3>
          Key errors ({formatCount(keyErrorCount)}
          {keyErrorCount > keyErrors.length ? `, the last ${keyErrors.length} shown` : ''})
        </h3>
        <ul className="list" data-testid="run-key-errors" style={{ maxHeight: 260 }}>
          {keyErrors
            .slice()
            .reverse()
            .map((e) => {
              const k = displayKey(e.keyHex);
              return (
                <li key={e.id} data-testid="key-error-row">
                  <b>{e.source}</b> db {e.db} <span className="mono">{k.text}</span>: <span className="error">{e.message}</span>
                </li>
              );
            })}
        </ul>
      </div>
    </div>
  );
}

const COUNT_LABELS: Array<[keyof KeyCounts, string]> = [
  ['scanned', 'scanned'],
  ['written', 'written'],
  ['unchanged', 'unchanged'],
  ['skipped', 'skipped'],
  ['expired', 'expired'],
  ['vanished', 'vanished'],
  ['filtered', 'filtered'],
  ['reencoded', 're-encoded'],
  ['viaCommands', 'via commands'],
  ['chunked', 'chunked'],
  ['errors', 'errors'],
];

export function RunOutcomeView() {
  const outcome = useFerry((s) => s.run.outcome);
  const status = useFerry((s) => s.run.status);
  const liveMode = useFerry((s) => s.run.liveMode);
  if (!outcome) return null;
  const shown = status === 'paused' ? 'paused' : outcome.outcome;
  // A live run ends when told to: its engine message speaks of the CLI's --live --resume.
  const message = liveMode && outcome.outcome === 'stopped' ? null : outcome.message;
  return (
    <div className="panel" data-testid="run-outcome" data-outcome={shown} data-written={outcome.counts.written} data-errors={outcome.counts.errors}>
      <div className="row">
        <h2 className="grow">
          <span className={`badge st-${shown}`}>{shown}</span> {formatCount(outcome.counts.written)} keys written, {formatBytes(outcome.counts.bytes)}
          {outcome.elapsedMs !== null && <span className="muted"> in {formatDuration(outcome.elapsedMs)}</span>}
        </h2>
      </div>
      {message && <p className={outcome.outcome === 'failed' ? 'error' : 'muted'}>{message}</p>}
      {status === 'paused' && !liveMode && <p className="muted">Paused: the checkpoint is kept; Resume goes on from it.</p>}
      {status === 'paused' && liveMode && (
        <p className="muted">Live sync paused: each source node's replication offset is kept; Resume follows the streams again from it (a partial resync while the source's backlog still holds it).</p>
      )}
      {status === 'stopped' && liveMode && <p className="muted">Live sync stopped.</p>}
      {outcome.verified && (
        <p className={outcome.verified.differences > 0 ? 'error' : 'okText'}>
          Verified against the staging copies: {formatCount(outcome.verified.compared)} compared, {formatCount(outcome.verified.differences)} differences.
        </p>
      )}
      <table className="data">
        <thead>
          <tr>
            <th>source</th>
            {COUNT_LABELS.map(([k, label]) => (
              <th key={k} className="num">
                {label}
              </th>
            ))}
            <th className="num">bytes</th>
          </tr>
        </thead>
        <tbody>
          {Object.entries(outcome.perSource).map(([name, c]) => (
            <tr key={name}>
              <td>{name}</td>
              {COUNT_LABELS.map(([k]) => (
                <td key={k} className="num">
                  {formatCount(c[k])}
                </td>
              ))}
              <td className="num">{formatBytes(c.bytes)}</td>
            </tr>
          ))}
          <tr>
            <td>
              <b>all</b>
            </td>
            {COUNT_LABELS.map(([k]) => (
              <td key={k} className="num">
                <b>{formatCount(outcome.counts[k])}</b>
              </td>
            ))}
            <td className="num">
              <b>{formatBytes(outcome.counts.bytes)}</b>
            </td>
          </tr>
        </tbody>
      </table>
      {outcome.latency && outcome.latency.length > 0 && (
        <table className="data" style={{ marginTop: 8 }} data-testid="run-latency-summary">
          <thead>
            <tr>
              <th>endpoint</th>
              <th className="num">avg</th>
              <th className="num">worst p99</th>
              <th className="num">max</th>
              <th className="num">server max</th>
              <th className="num">seconds over budget</th>
              <th className="num">budget</th>
            </tr>
          </thead>
          <tbody>
            {outcome.latency.map((l) => (
              <tr key={l.endpoint}>
                <td>{l.endpoint}</td>
                <td className="num">{formatMs(l.avgMs)}</td>
                <td className="num">{formatMs(l.worstP99Ms)}</td>
                <td className="num">{formatMs(l.maxMs)}</td>
                <td className="num">{formatMs(l.serverMaxMs)}</td>
                <td className="num">
                  {formatCount(l.secondsOverBudget)} of {formatCount(l.seconds)}
                </td>
                <td className="num">{formatMs(l.budgetMs)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </div>
  );
}
