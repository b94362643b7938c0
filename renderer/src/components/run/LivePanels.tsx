import { useState } from 'react';
import { DifferenceKind } from '../../../../shared/events.js';
import { formatBytes, formatCount, formatDuration } from '../../../../shared/format.js';
import { actions, useFerry, useFerryShallow } from '../../appState.js';
import { isCaughtUp, liveNodes, nodesBehind } from '../../store/runSlice.js';
import { DifferenceTable, VerifyProgress } from '../VerifyParts.js';

const SEP = '\u0000';

/** One source node followed live: re-renders on its own events only (it selects its own entry). */
function LiveNodeCard({ source, node }: { source: string; node: string }) {
  const n = useFerry((s) => s.run.live[source]?.[node]);
  if (!n) return null;
  const caughtUp = isCaughtUp(n);
  return (
    <div
      className={`live-node ${caughtUp ? 'caught-up' : ''}`}
      data-testid="live-node"
      data-source={source}
      data-node={node}
      data-phase={n.phase}
      data-caught-up={caughtUp}
      data-lag-bytes={n.lagBytes}
      data-applied={n.applied}
    >
      <div className="row">
        <b>{source}</b>
        <span className="mono grow">{node}</span>
        <span className={`badge st-${n.phase}`} data-testid="live-phase">
          {n.phase}
        </span>
        {n.mode === 'notifications' && (
          <span className="badge lvl-warn" data-testid="live-best-effort" title="The source refuses SYNC and PSYNC: followed by keyspace notifications, which can be lost; the cut-over verifies and repairs every key">
            best effort
          </span>
        )}
        {caughtUp && (
          <span className="badge st-done" data-testid="live-caught-up" title="Streaming, and the target holds every command of the stream so far">
            caught up
          </span>
        )}
      </div>
      <p className="kv">
        <span title="How the latest connection started: the whole dataset again (full), or from Ferry's offset (partial)">
          resync <b>{n.resync ?? '--'}</b>
        </span>
        {n.mode === 'notifications' ? (
          <span className={(n.lagKeys ?? 0) > 0 ? 'warnText' : ''}>
            lag <b data-testid="live-lag-keys">{formatCount(n.lagKeys ?? 0)} keys</b> · <b data-testid="live-lag-time">{formatDuration(n.lagMs)}</b>
          </span>
        ) : (
          <span className={n.lagBytes > 0 ? 'warnText' : ''}>
            lag <b data-testid="live-lag-bytes">{formatBytes(n.lagBytes)}</b> · <b data-testid="live-lag-time">{formatDuration(n.lagMs)}</b>
          </span>
        )}
      </p>
      <p className="kv">
        <span>
          applied <b data-testid="live-applied">{formatCount(n.applied)}</b>
        </span>
        <span title="Left out by the job's filters, or replication chatter">
          dropped <b>{formatCount(n.dropped)}</b>
        </span>
        <span className={n.errors > 0 ? 'error' : ''} title="Commands the target refused">
          errors <b>{formatCount(n.errors)}</b>
        </span>
      </p>
      {n.mode !== 'notifications' && (
        <p className="muted mono" title="The server's replication offset, and the offset up to which the target holds every effect">
          offset {formatCount(n.appliedOffset)} of {formatCount(n.serverOffset)}
        </p>
      )}
      {n.message && (
        <p className={n.phase === 'failed' ? 'error' : 'muted'} data-testid="live-message">
          {n.message}
        </p>
      )}
    </div>
  );
}

/** Live sync: a card per source node (phase, resync, lag, commands), shown while the run is live. */
export function LiveNodesPanel() {
  const liveMode = useFerry((s) => s.run.liveMode);
  const keys = useFerryShallow((s) => liveNodes(s.run).map((n) => `${n.source}${SEP}${n.node}`));
  const caughtUp = useFerry((s) => liveNodes(s.run).filter(isCaughtUp).length);
  if (!liveMode) return null;
  return (
    <div className="panel" data-testid="live-panel" data-nodes={keys.length} data-caught-up={caughtUp}>
      <h3>
        Live sync ·{' '}
        <span className="muted">
          {keys.length === 0 ? 'connecting to the sources…' : `${caughtUp} of ${keys.length} node${keys.length === 1 ? '' : 's'} caught up`}
        </span>
      </h3>
      <div className="live-nodes">
        {keys.map((k) => {
          const [source = '', node = ''] = k.split(SEP);
          return <LiveNodeCard key={k} source={source} node={node} />;
        })}
      </div>
    </div>
  );
}

function CutoverWaiting() {
  const behind = useFerryShallow((s) => nodesBehind(s.run).map((n) => `${n.source} ${n.node}: ${n.phase}, ${formatBytes(n.lagBytes)} behind`));
  return (
    <div>
      <p className="warnText">Waiting until every source node has applied its stream (lag 0)…</p>
      {behind.length > 0 && (
        <ul className="list" data-testid="cutover-behind">
          {behind.map((b) => (
            <li key={b}>{b}</li>
          ))}
        </ul>
      )}
    </div>
  );
}

function CutoverVerdictView() {
  const cutover = useFerry((s) => s.run.cutover);
  const differences = useFerry((s) => s.verify.differences);
  const verdict = cutover.verdict;
  if (!verdict) return null;
  const v = verdict.verify;
  const total = v ? DifferenceKind.options.reduce((sum, k) => sum + v.differences[k], 0) : 0;
  return (
    <div data-testid="cutover-verdict" data-safe={verdict.safe}>
      {verdict.safe ? (
        <>
          <h2 className="okText">Safe to switch</h2>
          <p>Every source node's stream is applied (lag 0) and the target equals the sources. Point the application at the target, then stop live sync (Cancel).</p>
        </>
      ) : (
        <>
          <h2 className="error">NOT safe to switch</h2>
          <p className="error" data-testid="cutover-reason">
            {verdict.reason ?? 'the cut-over did not say why'}
          </p>
        </>
      )}
      {v && (
        <p className="kv" data-testid="cutover-counts" data-compared={v.compared} data-differences={total}>
          <span>
            <b>{formatCount(v.compared)}</b> compared
          </span>
          <span>
            <b>{formatCount(v.equal)}</b> equal
          </span>
          {DifferenceKind.options.map((k) => (
            <span key={k} className={v.differences[k] > 0 ? 'error' : 'muted'}>
              {k} <b>{formatCount(v.differences[k])}</b>
            </span>
          ))}
          <span className="muted">kept by policy {formatCount(v.keptByPolicy)}</span>
          <span className="muted">vanished {formatCount(v.vanished)}</span>
        </p>
      )}
      {total > 0 && <DifferenceTable testId="cutover-differences" rows={differences} height={220} />}
    </div>
  );
}

/** How long the workbench's cut-over may pause the sources' writes. */
const PAUSE_WRITES_MS = 60_000;

/** The guided cut-over of a live run: wait for lag 0, verify, then the verdict. */
export function CutoverPanel() {
  const liveMode = useFerry((s) => s.run.liveMode);
  const status = useFerry((s) => s.run.status);
  const cutover = useFerry((s) => s.run.cutover);
  const hasNodes = useFerry((s) => Object.keys(s.run.live).length > 0);
  if (!liveMode) return null;
  const busy = cutover.status === 'waiting' || cutover.status === 'verifying';
  return <CutoverControls busy={busy} enabled={status === 'running' && hasNodes} state={cutover.status} />;
}

/** Cut over, with the choice of pausing the sources' writes for the duration (a consistent point). */
function CutoverControls({ busy, enabled, state }: { busy: boolean; enabled: boolean; state: string }) {
  const [pause, setPause] = useState(false);
  const cutover = useFerry((s) => s.run.cutover);
  return (
    <div className="panel" data-testid="cutover-panel">
      <div className="toolbar">
        <button
          type="button"
          className="primary"
          data-testid="run-cutover"
          disabled={!enabled || busy}
          onClick={() => void actions.cutover(undefined, pause ? PAUSE_WRITES_MS : undefined)}
          title="Waits until every source node is caught up, then compares every key"
        >
          {busy ? 'Cutting over…' : 'Cut over'}
        </button>
        <button type="button" data-testid="run-cutover-cancel" disabled={!busy} onClick={() => actions.cancelCutover()}>
          Stop waiting
        </button>
        <label title="CLIENT PAUSE WRITE on every source master (Redis 6.2+), ended as soon as the verify is">
          <input type="checkbox" data-testid="cutover-pause" checked={pause} disabled={busy} onChange={(e) => setPause(e.target.checked)} /> pause the sources' writes (up to {PAUSE_WRITES_MS / 1000} s)
        </label>
        <span data-testid="cutover-state" data-state={state} className={`badge st-${state}`}>
          {state}
        </span>
        <span className="muted">{pause ? 'Ferry pauses the application for the cut-over' : "Stop the application's writes to the sources first"}; live sync goes on whatever the verdict.</span>
      </div>
      {cutover.status === 'waiting' && <CutoverWaiting />}
      {cutover.status === 'verifying' && <p className="muted">Every node caught up; comparing every key…</p>}
      {(cutover.status === 'verifying' || cutover.status === 'safe' || cutover.status === 'unsafe') && <VerifyProgress testId="cutover-verify-progress" rowTestId="cutover-verify-row" />}
      <CutoverVerdictView />
      {cutover.status === 'failed' && (
        <p className="error" data-testid="cutover-error">
          {cutover.error}
        </p>
      )}
      {cutover.status === 'cancelled' && <p className="muted">Cut-over cancelled; live sync goes on.</p>}
    </div>
  );
}
