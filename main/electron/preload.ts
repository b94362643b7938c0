// The preload: gives the page `window.ferry` (a FerryApi) and nothing else. It runs sandboxed, so it
// may import only 'electron'; electron-vite bundles it into one CommonJS file with shared/api.ts inlined.
//
// Why `contextBridge.executeInMainWorld` and not only `exposeInMainWorld`: values crossing the bridge
// are copied, and the copy keeps only the `message` of an Error (no `name`, no `code`) and the own
// properties of an object (an AbortSignal arrives as `{}`). So the bridge carries three plain functions
// (invoke, cancel, listen), and a small function run in the page's world builds the FerryApi around
// them: its errors are the page's own Errors (name 'FerryCallError', `code`), and it watches the
// page's AbortSignal itself. The three functions stay in that function's closure: the page sees
// `window.ferry` only.
import { contextBridge, ipcRenderer, type IpcRendererEvent } from 'electron';
import { IPC, type AppEvent, type Envelope, type FerryApi } from '../../shared/api.js';

/** What crosses the bridge: plain functions over plain data. */
interface RawBridge {
  invoke(id: string, name: string, input: unknown): Promise<Envelope>;
  cancel(id: string): void;
  listen(handler: (event: AppEvent) => void): () => void;
}

const rawBridge: RawBridge = {
  invoke: (id, name, input) => ipcRenderer.invoke(IPC.call, { id, name, input }) as Promise<Envelope>,
  cancel: (id) => ipcRenderer.send(IPC.cancel, id),
  listen: (handler) => {
    // The renderer gets the event only, never Electron's event object (it holds the sender).
    const listener = (_event: IpcRendererEvent, appEvent: AppEvent) => handler(appEvent);
    ipcRenderer.on(IPC.event, listener);
    return () => {
      ipcRenderer.removeListener(IPC.event, listener);
    };
  },
};

/**
 * Runs in the page's world: Electron serializes it to text, so it must not refer to anything outside
 * itself (no imports, no module-level names, no helpers a bundler might add).
 * Not exported: this file is the bundle's entry and exports nothing (the tests take this function
 * from the executeInMainWorld call).
 */
function installFerry(raw: RawBridge): void {
  const prefix = Math.random().toString(36).slice(2, 10);
  let counter = 0;
  const failure = (message: string, code: string): Error => {
    const error = new Error(message) as Error & { code: string };
    error.name = 'FerryCallError';
    error.code = code;
    return error;
  };
  const call = (name: string, input: unknown, opts?: { signal?: AbortSignal }): Promise<unknown> => {
    const signal = opts ? opts.signal : undefined;
    if (signal && signal.aborted) return Promise.reject(failure('cancelled', 'cancelled'));
    counter += 1;
    const id = `${prefix}-${counter}`;
    return new Promise((resolve, reject) => {
      let settled = false;
      const onAbort = () => {
        if (settled) return;
        settled = true;
        raw.cancel(id);
        reject(failure('cancelled', 'cancelled'));
      };
      if (signal) signal.addEventListener('abort', onAbort, { once: true });
      raw.invoke(id, name, input).then(
        (envelope) => {
          if (signal) signal.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          if (envelope && envelope.ok === true) resolve(envelope.value);
          else if (envelope && envelope.ok === false) reject(failure(envelope.error.message, envelope.error.code));
          else reject(failure('malformed reply from the host', 'failed'));
        },
        (err: unknown) => {
          if (signal) signal.removeEventListener('abort', onAbort);
          if (settled) return;
          settled = true;
          reject(failure(err instanceof Error ? err.message : String(err), 'failed'));
        },
      );
    });
  };
  const listen = (handler: (event: AppEvent) => void): (() => void) => raw.listen(handler);
  const api: FerryApi = { call: call as FerryApi['call'], listen };
  Object.defineProperty(globalThis, 'ferry', {
    value: Object.freeze(api),
    enumerable: true,
    configurable: false,
    writable: false,
  });
}

contextBridge.executeInMainWorld({ func: installFerry, args: [rawBridge] });
