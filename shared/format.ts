/**
 * Human units for numbers people read: the terminal, the plan's HTML report and the UI.
 * Pure functions, no imports (the renderer bundles this file).
 */

/** `1234567` → `1,234,567` (rounded to a whole number). */
export function formatCount(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

/** Bytes in binary units: `512 B`, `1.5 KB`, `12.0 MB`, `3.2 GB`, `1.1 TB`. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return `${n.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

/**
 * A long duration, to the second: `42s`, `3m05s`, `2h07m`; `--` when unknown. For ETAs and
 * estimated run times, where a fraction of a second means nothing.
 */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '--';
  if (ms < 9950) return `${(ms / 1000).toFixed(1)}s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/**
 * A short duration, where milliseconds matter (round trips, stalls): `0.4 ms`, `12 ms`, `840 ms`,
 * `1.2 s`, `42 s`, then as `formatDuration` (`2m43s`); `--` when unknown.
 */
export function formatMs(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms)) return '--';
  if (ms < 10) return `${(Math.round(ms * 10) / 10).toFixed(1)} ms`;
  if (ms < 999.5) return `${Math.round(ms)} ms`;
  if (ms < 9950) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 59500) return `${Math.round(ms / 1000)} s`;
  return formatDuration(ms);
}

/** `part` as a share of `whole`: `62%`, `<1%` for a small non-zero share, `0%`, `--` when whole is 0. */
export function formatPercent(part: number, whole: number): string {
  if (!(whole > 0)) return '--';
  const p = (part / whole) * 100;
  if (p > 0 && p < 1) return '<1%';
  return `${Math.round(p)}%`;
}

/** An ISO timestamp as `2025-06-01 14:03 UTC`; anything unparseable is returned as it is. */
export function formatTimestamp(iso: string): string {
  const t = Date.parse(iso);
  if (Number.isNaN(t)) return iso;
  return `${new Date(t).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
