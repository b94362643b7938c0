import { formatMs } from '../../../../shared/format.js';
import { LATENCY_WINDOW_SECONDS, type LatencyPoint, type LatencySeries } from '../../store/latency.js';
import { useThrottledFerry } from '../../useThrottled.js';

const W = 560;
const H = 170;
const PAD_L = 44;
const PAD_R = 8;
const PAD_T = 8;
const PLOT_H = 118;
const BAND_T = PAD_T + PLOT_H + 6;
const BAND_H = 12;
const MIN_MS = 0.05;

/** Redraws at most this often (the only timer of the screens). */
const REDRAW_MS = 500;

function pathOf(points: readonly LatencyPoint[], x: (s: number) => number, y: (ms: number) => number, pick: (p: LatencyPoint) => number): string {
  let d = '';
  let prev: number | null = null;
  for (const p of points) {
    // A missing second breaks the line rather than drawing across the gap.
    d += `${prev === null || p.second - prev > 1 ? 'M' : 'L'}${x(p.second).toFixed(1)},${y(pick(p)).toFixed(1)}`;
    prev = p.second;
  }
  return d;
}

/** The per-second avg / p99 / max of one endpoint over the last 120 s, with its budget line. */
export function LatencyChartView({ series, budgetMs }: { series: LatencySeries; budgetMs: number }) {
  const points = series.points;
  const newest = points.length > 0 ? points[points.length - 1]!.second : 0;
  const start = newest - (LATENCY_WINDOW_SECONDS - 1);
  const floor = series.floorMs ?? 0;
  const budgetLine = floor + budgetMs;
  const top = Math.max(1, budgetLine, ...points.map((p) => p.maxMs)) * 1.4;
  const lo = Math.log10(MIN_MS);
  const hi = Math.log10(top);
  const plotW = W - PAD_L - PAD_R;
  const x = (sec: number) => PAD_L + ((sec - start) / (LATENCY_WINDOW_SECONDS - 1)) * plotW;
  const y = (ms: number) => PAD_T + PLOT_H - ((Math.log10(Math.max(MIN_MS, ms)) - lo) / (hi - lo)) * PLOT_H;
  const ticks = [0.1, 1, 10, 100, 1000, 10000].filter((t) => t <= top);
  const last = points[points.length - 1];
  const overBudget = points.filter((p) => p.p99Ms - floor > budgetMs).length;
  const step = plotW / (LATENCY_WINDOW_SECONDS - 1);

  return (
    <figure style={{ margin: 0 }} className="panel">
      <figcaption className="row" style={{ marginBottom: 4 }}>
        <b className="grow">
          {series.endpoint} <span className="muted">({series.nodes.length} node{series.nodes.length === 1 ? '' : 's'})</span>
        </b>
        {last && (
          <span className="muted">
            avg {formatMs(last.avgMs)} · p99 {formatMs(last.p99Ms)} · max {formatMs(last.maxMs)} · pace {Math.round(last.paceFactor * 100)}%
          </span>
        )}
      </figcaption>
      <svg
        viewBox={`0 0 ${W} ${H}`}
        width="100%"
        role="img"
        aria-label={`Latency of ${series.endpoint} over the last ${points.length} seconds; ${overBudget} seconds over the budget of ${formatMs(budgetMs)}`}
        data-testid="latency-chart"
        data-endpoint={series.endpoint}
        data-seconds={points.length}
        data-over-budget={overBudget}
      >
        {ticks.map((t) => (
          <g key={t}>
            <line x1={PAD_L} x2={W - PAD_R} y1={y(t)} y2={y(t)} className="axis" strokeWidth={0.5} />
            <text x={PAD_L - 4} y={y(t) + 3} textAnchor="end" className="muted">
              {t >= 1000 ? `${t / 1000}s` : `${t}ms`}
            </text>
          </g>
        ))}
        <line x1={PAD_L} x2={PAD_L} y1={PAD_T} y2={PAD_T + PLOT_H} className="axis" />
        <line
          x1={PAD_L}
          x2={W - PAD_R}
          y1={y(budgetLine)}
          y2={y(budgetLine)}
          stroke="var(--chart-budget)"
          strokeDasharray="5 4"
          strokeWidth={1.2}
          data-testid="latency-budget"
        />
        <path d={pathOf(points, x, y, (p) => p.maxMs)} fill="none" stroke="var(--chart-max)" strokeWidth={1} strokeDasharray="2 2" />
        <path d={pathOf(points, x, y, (p) => p.p99Ms)} fill="none" stroke="var(--chart-p99)" strokeWidth={1.5} />
        <path d={pathOf(points, x, y, (p) => p.avgMs)} fill="none" stroke="var(--chart-avg)" strokeWidth={1.5} />
        {/* The pace factor, a band under the plot: full height = full speed. */}
        <rect x={PAD_L} y={BAND_T} width={plotW} height={BAND_H} fill="var(--bar-bg)" />
        {points.map((p) => (
          <rect
            key={p.second}
            x={x(p.second) - step / 2}
            y={BAND_T + BAND_H * (1 - p.paceFactor)}
            width={Math.max(1, step)}
            height={BAND_H * p.paceFactor}
            fill={p.paceFactor >= 1 ? 'var(--ok)' : 'var(--warn)'}
          />
        ))}
        <text x={PAD_L - 4} y={BAND_T + 10} textAnchor="end" className="muted">
          pace
        </text>
        <text x={PAD_L} y={H - 2} className="muted">
          −{LATENCY_WINDOW_SECONDS}s
        </text>
        <text x={W - PAD_R} y={H - 2} textAnchor="end" className="muted">
          now
        </text>
      </svg>
      <div className="legend">
        <span>
          <i style={{ background: 'var(--chart-avg)' }} />
          avg
        </span>
        <span>
          <i style={{ background: 'var(--chart-p99)' }} />
          p99
        </span>
        <span>
          <i style={{ background: 'var(--chart-max)' }} />
          max
        </span>
        <span>
          <i style={{ background: 'var(--chart-budget)' }} />
          budget {formatMs(budgetMs)}
          {floor > 0 ? ` over the ${formatMs(floor)} round trip` : ''}
        </span>
        <span>{overBudget} s over budget in view</span>
      </div>
    </figure>
  );
}

/** One endpoint's chart, fed from the store at most every REDRAW_MS. */
export function LatencyChart({ endpoint }: { endpoint: string }) {
  const series = useThrottledFerry((s) => s.run.latency[endpoint], REDRAW_MS);
  const budgetMs = useThrottledFerry((s) => s.run.budgetMs, REDRAW_MS);
  if (!series) return null;
  return <LatencyChartView series={series} budgetMs={budgetMs} />;
}
