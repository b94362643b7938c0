import type { FerryApi } from '../../../shared/api.js';
import { toFerryCallError } from './errors.js';
import { apiUrlFromLocation, createWsApi } from './wsApi.js';

let api: FerryApi | null = null;

/**
 * The one door to the host: the Electron preload's bridge when there is one, else the WebSocket of
 * `ferry serve`. Nothing else in the UI knows which it is.
 */
export function getApi(): FerryApi {
  if (api) return api;
  const bridge = typeof window !== 'undefined' ? window.ferry : undefined;
  if (bridge) {
    // Errors crossing the contextBridge lose their class: give them their code back.
    api = {
      call: (name, input, opts) => bridge.call(name, input, opts).catch((err: unknown) => Promise.reject(toFerryCallError(err))),
      listen: (handler) => bridge.listen(handler),
    };
  } else {
    api = createWsApi({ url: apiUrlFromLocation(window.location) });
  }
  return api;
}
