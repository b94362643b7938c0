import { useStore } from 'zustand';
import { useShallow } from 'zustand/react/shallow';
import { getApi } from './api/index.js';
import { createActions } from './store/actions.js';
import { createFerryStore, type FerryState } from './store/store.js';
import type { Theme, ThemeStorage } from './store/uiSlice.js';

const THEME_KEY = 'ferry.theme';

/** The theme kept in localStorage (the store itself never touches the DOM). */
function localThemeStorage(): ThemeStorage {
  return {
    load() {
      try {
        const v = window.localStorage.getItem(THEME_KEY);
        return v === 'dark' || v === 'light' ? v : null;
      } catch {
        return null;
      }
    },
    save(theme: Theme) {
      try {
        window.localStorage.setItem(THEME_KEY, theme);
      } catch {
        // storage refused (private mode): the theme lasts for the session
      }
    },
  };
}

const prefersLight = typeof window.matchMedia === 'function' && window.matchMedia('(prefers-color-scheme: light)').matches;

export const store = createFerryStore({ themeStorage: localThemeStorage(), defaultTheme: prefersLight ? 'light' : 'dark' });
export const api = getApi();
export const actions = createActions(api, store);

/** Events enter the store in one place, wired once. */
let wired = false;
export function wireEvents(): void {
  if (wired) return;
  wired = true;
  api.listen((event) => store.getState().applyEvent(event));
}

/** Selects a part of the state; the component re-renders only when that part changes. */
export function useFerry<T>(selector: (s: FerryState) => T): T {
  return useStore(store, selector);
}

/** For selectors that build an object or array of several parts (compared shallowly). */
export function useFerryShallow<T>(selector: (s: FerryState) => T): T {
  return useStore(store, useShallow(selector));
}
