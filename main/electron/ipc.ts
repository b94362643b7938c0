// The Electron door to the dispatcher: the two IPC channels of the contract (`IPC.call`, `IPC.cancel`)
// and the event channel (`IPC.event`). Every message is checked for its sender frame first: only the
// app's own page (the built renderer's index.html, or the dev server in development) may call.
// Nothing here imports Electron, so the tests drive it with fakes of the few methods it uses.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { IPC, type AppEvent, type Envelope } from '../../shared/api.js';

/** What the checks read of Electron's `WebFrameMain`. */
export interface SenderFrame {
  readonly url: string;
  /** Null for a main frame (Electron's WebFrameMain); a sub-frame never calls. */
  readonly parent?: unknown;
}

/** What the handlers read of Electron's `IpcMainInvokeEvent` / `IpcMainEvent`. */
export interface IpcEventLike {
  readonly senderFrame: SenderFrame | null;
}

/** The two methods of Electron's `ipcMain` used here. */
export interface IpcMainLike {
  handle(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => unknown): void;
  on(channel: string, listener: (event: IpcEventLike, ...args: unknown[]) => void): unknown;
}

/** main/app/dispatch.ts's dispatcher: it parses the input against the contract and never throws. */
export interface DispatcherLike {
  call(id: string, name: string, rawInput: unknown): Promise<Envelope>;
  cancel(id: string): void;
}

export interface IpcDeps {
  ipcMain: IpcMainLike;
  dispatcher: DispatcherLike;
  isTrustedSender(frame: SenderFrame | null): boolean;
  /** Delivers one event to the window (`webContents.send(IPC.event, event)`). */
  send(event: AppEvent): void;
  /** Where refusals are reported; console.warn when not given. */
  log?: (message: string) => void;
}

export interface IpcBridge {
  /** The `emit` the handlers get: sends an event to the window, and never throws (a closed window drops it). */
  emit(event: AppEvent): void;
}

const MAX_ID_LENGTH = 200;
const MAX_NAME_LENGTH = 100;

function badInput(message: string): Envelope {
  return { ok: false, error: { code: 'bad-input', message } };
}

function describe(frame: SenderFrame | null): string {
  if (!frame) return 'no frame (navigated away or destroyed)';
  return frame.parent ? `sub-frame ${frame.url}` : frame.url;
}

export function registerIpc(deps: IpcDeps): IpcBridge {
  const log = deps.log ?? ((message: string) => console.warn(message));

  deps.ipcMain.handle(IPC.call, async (event, payload) => {
    if (!deps.isTrustedSender(event.senderFrame)) {
      log(`[ferry] refused ${IPC.call} from an untrusted sender: ${describe(event.senderFrame)}`);
      return badInput('untrusted sender');
    }
    if (typeof payload !== 'object' || payload === null) return badInput('a call is { id, name, input }');
    const { id, name, input } = payload as { id?: unknown; name?: unknown; input?: unknown };
    if (typeof id !== 'string' || id.length === 0 || id.length > MAX_ID_LENGTH) return badInput('a call needs a string id');
    if (typeof name !== 'string' || name.length > MAX_NAME_LENGTH) return badInput('a call needs the name of an operation');
    try {
      return await deps.dispatcher.call(id, name, input);
    } catch (err) {
      // The dispatcher turns failures into envelopes; this is the net under it. No stack crosses the boundary.
      log(`[ferry] ${name} failed outside the dispatcher: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      const envelope: Envelope = { ok: false, error: { code: 'failed', message: 'internal error' } };
      return envelope;
    }
  });

  deps.ipcMain.on(IPC.cancel, (event, id) => {
    if (!deps.isTrustedSender(event.senderFrame)) {
      log(`[ferry] refused ${IPC.cancel} from an untrusted sender: ${describe(event.senderFrame)}`);
      return;
    }
    if (typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH) deps.dispatcher.cancel(id);
  });

  return {
    emit(event) {
      try {
        deps.send(event);
      } catch (err) {
        log(`[ferry] dropped an event: ${err instanceof Error ? err.message : String(err)}`);
      }
    },
  };
}

/** Where the app's own page lives: the dev server (development only) or the built index.html. */
export interface AppLocation {
  /** electron-vite's dev server URL (`ELECTRON_RENDERER_URL`); undefined in a built app. */
  devUrl?: string | undefined;
  /** Absolute path of the built renderer's index.html. */
  rendererIndex: string;
}

function samePath(a: string, b: string): boolean {
  const [x, y] = [path.resolve(a), path.resolve(b)];
  return process.platform === 'win32' || process.platform === 'darwin' ? x.toLowerCase() === y.toLowerCase() : x === y;
}

/** Whether a URL is the app's own page: the dev server's origin, or exactly the built index.html (any hash or query). */
export function isAppUrl(url: string, where: AppLocation): boolean {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return false;
  }
  if (where.devUrl) {
    try {
      return parsed.origin === new URL(where.devUrl).origin;
    } catch {
      return false;
    }
  }
  if (parsed.protocol !== 'file:') return false;
  parsed.hash = '';
  parsed.search = '';
  try {
    return samePath(fileURLToPath(parsed), where.rendererIndex);
  } catch {
    return false;
  }
}

/** The sender check `registerIpc` needs: a main frame showing the app's own page. */
export function appSenderCheck(where: AppLocation): (frame: SenderFrame | null) => boolean {
  return (frame) => frame !== null && !frame.parent && isAppUrl(frame.url, where);
}
