/** Small formatting helpers for the terminal: the same units as every other view (shared/format.ts). */

export { formatBytes, formatCount, formatDuration } from '../../shared/format.js';
