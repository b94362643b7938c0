import { formatBytes } from '../../../../shared/format.js';
import { actions, useFerry } from '../../appState.js';
import { ProgressBar } from '../ProgressBar.js';
import { TunnelList } from '../TunnelList.js';

/** While plan.run works: staging copies synced for it, tunnels, what each source is doing. */
export function PlanProgress() {
  const staging = useFerry((s) => s.plan.staging);
  const stages = useFerry((s) => s.plan.stages);
  const tunnels = useFerry((s) => s.plan.tunnels);
  const warnings = useFerry((s) => s.plan.warnings);
  const nodes = Object.values(staging);
  return (
    <div className="panel" data-testid="plan-progress">
      <div className="row">
        <h2 className="grow">Planning…</h2>
        <button type="button" data-testid="plan-cancel" onClick={() => actions.cancelPlan()}>
          Cancel
        </button>
      </div>
      <p className="muted">Reading every endpoint and every selected key; nothing is written.</p>
      {Object.entries(stages).map(([source, text]) => (
        <div key={source}>
          <b>{source}</b> <span className="muted">{text}</span>
        </div>
      ))}
      {nodes.length > 0 && (
        <table className="data" data-testid="plan-staging">
          <thead>
            <tr>
              <th>staging copy</th>
              <th>state</th>
              <th>received</th>
              <th style={{ width: '40%' }}>progress</th>
            </tr>
          </thead>
          <tbody>
            {nodes.map((n) => (
              <tr key={`${n.source} ${n.node}`} data-testid={`plan-staging-${n.source}`} data-progress={n.percent ?? ''}>
                <td>
                  {n.source} <span className="mono muted">{n.node}</span>
                </td>
                <td className={`st-${n.state}`}>{n.state}</td>
                <td>
                  {formatBytes(n.receivedBytes)}
                  {n.totalBytes !== null && ` of ${formatBytes(n.totalBytes)}`}
                </td>
                <td>{n.percent === null ? <span className="muted">size unknown yet</span> : <ProgressBar percent={n.percent} />}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <TunnelList tunnels={tunnels} />
      {warnings.length > 0 && (
        <ul className="list">
          {warnings.map((w) => (
            <li key={w.id} className="warnText">
              {w.message}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}
