import { useMemo, useState, type ReactNode } from 'react';

export interface Column<T> {
  key: string;
  label: string;
  /** A CSS grid track: `2fr`, `90px`. */
  width: string;
  num?: boolean;
  render(row: T): ReactNode;
  /** Makes the column sortable. */
  sort?(row: T): number | string;
  title?(row: T): string;
}

interface Props<T> {
  rows: readonly T[];
  columns: ReadonlyArray<Column<T>>;
  rowKey(row: T, index: number): string | number;
  rowTestId?: string;
  testId?: string;
  rowHeight?: number;
  /** Height of the scrolling area (px). */
  height?: number;
  initialSort?: { key: string; desc: boolean };
  label: string;
}

const OVERSCAN = 8;

/**
 * A table that renders only the rows in view (plus a few): thousands of rows scroll smoothly
 * because the DOM holds a few dozen at any time.
 */
export function VirtualTable<T>({ rows, columns, rowKey, rowTestId, testId, rowHeight = 24, height = 300, initialSort, label }: Props<T>) {
  const [scrollTop, setScrollTop] = useState(0);
  const [sort, setSort] = useState(initialSort ?? null);

  const sorted = useMemo(() => {
    const col = sort && columns.find((c) => c.key === sort.key);
    if (!col?.sort) return rows;
    const get = col.sort;
    const out = rows.slice();
    out.sort((a, b) => {
      const x = get(a);
      const y = get(b);
      const cmp = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
      return sort!.desc ? -cmp : cmp;
    });
    return out;
  }, [rows, columns, sort]);

  const template = columns.map((c) => c.width).join(' ');
  const viewHeight = Math.min(height, Math.max(rowHeight, sorted.length * rowHeight));
  const start = Math.max(0, Math.floor(scrollTop / rowHeight) - OVERSCAN);
  const end = Math.min(sorted.length, Math.ceil((scrollTop + viewHeight) / rowHeight) + OVERSCAN);
  const visible: ReactNode[] = [];
  for (let i = start; i < end; i++) {
    const row = sorted[i]!;
    visible.push(
      <div
        key={rowKey(row, i)}
        className="vrow"
        role="row"
        aria-rowindex={i + 2}
        data-testid={rowTestId}
        style={{ top: i * rowHeight, height: rowHeight, lineHeight: `${rowHeight - 1}px`, gridTemplateColumns: template }}
      >
        {columns.map((c) => (
          <div key={c.key} role="cell" className={c.num ? 'num' : undefined} title={c.title?.(row)}>
            {c.render(row)}
          </div>
        ))}
      </div>,
    );
  }

  return (
    <div className="vtable" role="table" aria-label={label} aria-rowcount={sorted.length + 1} data-testid={testId} data-rows={sorted.length}>
      <div className="vhead" role="row" aria-rowindex={1} style={{ gridTemplateColumns: template }}>
        {columns.map((c) => {
          const active = sort?.key === c.key;
          return (
            <div key={c.key} role="columnheader" aria-sort={active ? (sort!.desc ? 'descending' : 'ascending') : undefined}>
              {c.sort ? (
                <button type="button" className={c.num ? 'num' : undefined} onClick={() => setSort({ key: c.key, desc: active ? !sort!.desc : Boolean(c.num) })}>
                  {c.label}
                  {active ? (sort!.desc ? ' ▾' : ' ▴') : ''}
                </button>
              ) : (
                <span style={{ padding: '4px 8px', display: 'block' }}>{c.label}</span>
              )}
            </div>
          );
        })}
      </div>
      {sorted.length === 0 ? (
        <div className="muted" style={{ padding: 8 }}>
          none
        </div>
      ) : (
        <div className="viewport" tabIndex={0} aria-label={`${label}: scroll`} style={{ height: viewHeight }} onScroll={(e) => setScrollTop(e.currentTarget.scrollTop)}>
          <div style={{ height: sorted.length * rowHeight, position: 'relative' }}>{visible}</div>
        </div>
      )}
    </div>
  );
}
