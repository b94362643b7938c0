import type { FerryApi } from '../../shared/api.js';

declare global {
  interface Window {
    /** Exposed by the Electron preload (contextBridge); absent when served over HTTP by `ferry serve`. */
    ferry?: FerryApi;
  }
}

export {};
