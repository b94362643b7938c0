/** A bar of 0-100 with its label; `tone` colours it (done, failed). */
export function ProgressBar({ percent, label, tone }: { percent: number; label?: string; tone?: 'done' | 'failed' }) {
  const p = Math.max(0, Math.min(100, percent));
  return (
    <div className="progress" role="progressbar" aria-valuemin={0} aria-valuemax={100} aria-valuenow={Math.round(p)}>
      <div className={`fill ${tone ?? ''}`} style={{ width: `${p}%` }} />
      <span>{label ?? `${Math.round(p)}%`}</span>
    </div>
  );
}
