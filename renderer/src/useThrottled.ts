import { useEffect, useRef, useState } from 'react';
import { store } from './appState.js';
import type { FerryState } from './store/store.js';

/**
 * Like useFerry, but re-renders at most once per `ms` (the latency charts: every node of every
 * endpoint reports once a second, and one redraw per interval is enough to read them).
 */
export function useThrottledFerry<T>(selector: (s: FerryState) => T, ms: number): T {
  const selectorRef = useRef(selector);
  selectorRef.current = selector;
  const [value, setValue] = useState(() => selector(store.getState()));
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    let last = 0;
    const flush = () => {
      timer = null;
      last = Date.now();
      setValue(() => selectorRef.current(store.getState()));
    };
    flush();
    const off = store.subscribe((s, prev) => {
      if (timer !== null || selectorRef.current(s) === selectorRef.current(prev)) return;
      timer = setTimeout(flush, Math.max(0, last + ms - Date.now()));
    });
    return () => {
      off();
      if (timer !== null) clearTimeout(timer);
    };
  }, [ms]);
  return value;
}
