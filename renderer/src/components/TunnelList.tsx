import type { TunnelState } from '../store/common.js';

export function TunnelList({ tunnels, testId }: { tunnels: Record<string, TunnelState>; testId?: string }) {
  const list = Object.values(tunnels);
  if (list.length === 0) return null;
  return (
    <div className="row" data-testid={testId} style={{ marginTop: 6 }}>
      <span className="muted">tunnels:</span>
      {list.map((t) => (
        <span key={t.tunnel} data-testid={`tunnel-state-${t.tunnel}`} data-state={t.state} title={t.message ?? ''}>
          <span className="mono">{t.tunnel}</span> <span className={`badge st-${t.state}`}>{t.state}</span>
          {t.attempt > 0 && <span className="muted"> attempt {t.attempt}</span>}
          {t.message && t.state === 'down' && <span className="muted"> · {t.message}</span>}
        </span>
      ))}
    </div>
  );
}
