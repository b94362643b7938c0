/** Small SVG charts (no chart library): horizontal bars and a column histogram. */

export interface BarItem {
  label: string;
  value: number;
  /** The value as shown (units). */
  text: string;
}

export function BarChart({ items, title, testId }: { items: readonly BarItem[]; title: string; testId?: string }) {
  const W = 320;
  const ROW = 18;
  const LABEL = 62;
  const VALUE = 70;
  const H = Math.max(ROW, items.length * ROW) + 4;
  const max = Math.max(1, ...items.map((i) => i.value));
  const barW = W - LABEL - VALUE - 8;
  return (
    <figure style={{ margin: 0 }}>
      <figcaption className="muted" style={{ fontSize: 12, marginBottom: 4 }}>
        {title}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`${title}: ${items.map((i) => `${i.label} ${i.text}`).join(', ')}`} data-testid={testId}>
        {items.map((it, i) => {
          const y = i * ROW + 2;
          const w = Math.max(it.value > 0 ? 1 : 0, (it.value / max) * barW);
          return (
            <g key={it.label}>
              <text x={0} y={y + 12}>
                {it.label}
              </text>
              <rect x={LABEL} y={y + 2} width={barW} height={ROW - 6} fill="var(--bar-bg)" rx={2} />
              <rect x={LABEL} y={y + 2} width={w} height={ROW - 6} fill="var(--accent)" rx={2} />
              <text x={W} y={y + 12} textAnchor="end" className="muted">
                {it.text}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}

export function ColumnChart({ items, title, testId }: { items: readonly BarItem[]; title: string; testId?: string }) {
  const W = 320;
  const H = 130;
  const BOTTOM = 30;
  const TOP = 14;
  const max = Math.max(1, ...items.map((i) => i.value));
  const slot = W / Math.max(1, items.length);
  const colW = slot * 0.64;
  return (
    <figure style={{ margin: 0 }}>
      <figcaption className="muted" style={{ fontSize: 12, marginBottom: 4 }}>
        {title}
      </figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" role="img" aria-label={`${title}: ${items.map((i) => `${i.label} ${i.text}`).join(', ')}`} data-testid={testId}>
        <line x1={0} x2={W} y1={H - BOTTOM} y2={H - BOTTOM} className="axis" />
        {items.map((it, i) => {
          const h = (it.value / max) * (H - BOTTOM - TOP);
          const x = i * slot + (slot - colW) / 2;
          return (
            <g key={it.label}>
              <rect x={x} y={H - BOTTOM - h} width={colW} height={h} fill="var(--accent)" rx={2} />
              <text x={x + colW / 2} y={H - BOTTOM - h - 3} textAnchor="middle" className="muted">
                {it.text}
              </text>
              <text x={x + colW / 2} y={H - BOTTOM + 14} textAnchor="middle">
                {it.label}
              </text>
            </g>
          );
        })}
      </svg>
    </figure>
  );
}
