// The desktop shell: one window showing the workbench, the IPC door to the dispatcher, and the secret
// store. Electron's security checklist applies throughout: the page runs sandboxed with context
// isolation and no Node; it may not navigate, open windows or use any permission; a CSP is sent
// with every response (the page's meta CSP applies as well); and IPC answers the app's own page only.
//
// Built by electron-vite (electron.vite.config.ts) into out/main/main.js (ESM), with the preload
// in out/preload/preload.cjs and the page in out/renderer/.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, ipcMain, safeStorage, session, shell, type WebContents } from 'electron';
import { IPC, type AppEvent } from '../../shared/api.js';
import { createDispatcher } from '../app/dispatch.js';
import { createHandlers } from '../app/handlers.js';
import { appSenderCheck, isAppUrl, registerIpc, type AppLocation } from './ipc.js';
import { SafeStorageSecretStore } from './secretStore.js';

const here = path.dirname(fileURLToPath(import.meta.url));

// The dev server only when running from source: a packaged app never loads a page named by the
// environment, whoever set it.
const where: AppLocation = {
  devUrl: !app.isPackaged ? process.env['ELECTRON_RENDERER_URL'] || undefined : undefined,
  rendererIndex: path.join(here, '../renderer/index.html'),
};
const preload = path.join(here, '../preload/preload.cjs');
/** How long quitting waits for runs and the sandbox to stop. */
const SHUTDOWN_GRACE_MS = 10_000;

const CSP_BUILT = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "font-src 'self' data:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-src 'none'",
  "frame-ancestors 'none'",
].join('; ');

/** Vite's dev server needs an inline script (React refresh) and its HMR socket; development only. */
function devCsp(devUrl: string): string {
  const origin = new URL(devUrl);
  const socket = `${origin.protocol === 'https:' ? 'wss' : 'ws'}://${origin.host}`;
  return CSP_BUILT.replace("script-src 'self'", "script-src 'self' 'unsafe-inline'").replace("connect-src 'self'", `connect-src 'self' ${socket}`);
}

let mainWindow: BrowserWindow | null = null;

function openExternally(url: string): void {
  // Links to the web open in the user's browser; nothing else (file:, custom schemes) is opened.
  if (url.startsWith('https://')) void shell.openExternal(url);
}

/** Guards for every web contents the app ever has (the window's, and any the page might create). */
function guardContents(contents: WebContents): void {
  contents.on('will-navigate', (event, url) => {
    if (!isAppUrl(url, where)) {
      event.preventDefault();
      openExternally(url);
    }
  });
  contents.on('will-redirect', (event, url) => {
    if (!isAppUrl(url, where)) event.preventDefault();
  });
  contents.on('will-attach-webview', (event) => event.preventDefault());
  contents.setWindowOpenHandler(({ url }) => {
    openExternally(url);
    return { action: 'deny' };
  });
}

function createWindow(): BrowserWindow {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 1024,
    minHeight: 700,
    title: 'Ferry',
    backgroundColor: '#0f1720',
    webPreferences: {
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      nodeIntegrationInSubFrames: false,
      webSecurity: true,
      webviewTag: false,
      preload,
    },
  });
  win.on('closed', () => {
    if (mainWindow === win) mainWindow = null;
  });
  if (where.devUrl) void win.loadURL(where.devUrl);
  else void win.loadFile(where.rendererIndex);
  return win;
}

function lockDownSession(): void {
  const ses = session.defaultSession;
  ses.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
  ses.setPermissionCheckHandler(() => false);
  const csp = where.devUrl ? devCsp(where.devUrl) : CSP_BUILT;
  ses.webRequest.onHeadersReceived((details, callback) => {
    const headers = { ...details.responseHeaders };
    for (const key of Object.keys(headers)) if (key.toLowerCase() === 'content-security-policy') delete headers[key];
    callback({ responseHeaders: { ...headers, 'Content-Security-Policy': [csp] } });
  });
}

function sendToWindow(event: AppEvent): void {
  const win = mainWindow;
  if (win && !win.isDestroyed() && !win.webContents.isDestroyed()) win.webContents.send(IPC.event, event);
}

async function start(): Promise<void> {
  await app.whenReady();
  lockDownSession();

  const userData = app.getPath('userData');
  const workDir = path.join(userData, 'workbench');
  fs.mkdirSync(workDir, { recursive: true, mode: 0o700 });
  // safeStorage is usable only once the app is ready (on Linux it picks its backend then).
  const secrets = new SafeStorageSecretStore(safeStorage, path.join(userData, 'secrets.json'));
  if (secrets.keychain === 'none') console.warn('[ferry] no OS keychain: secrets are stored without real protection');

  // The handlers need `emit` before the bridge exists; events go out through the bridge once it does.
  let emit: (event: AppEvent) => void = () => {};
  const handlers = createHandlers({ secrets, workDir, version: app.getVersion(), emit: (event: AppEvent) => emit(event) });
  const dispatcher = createDispatcher(handlers);
  const bridge = registerIpc({ ipcMain, dispatcher, isTrustedSender: appSenderCheck(where), send: sendToWindow });
  emit = bridge.emit;

  const open = () => {
    const win = createWindow();
    // The page that made the calls is gone (closed, reloaded, crashed): nobody waits for their answers.
    // Runs are not calls: they go on, and a new page finds them through its events.
    win.webContents.on('did-start-navigation', (details) => {
      if (details.isMainFrame && !details.isSameDocument) dispatcher.cancelAll();
    });
    win.webContents.on('render-process-gone', () => dispatcher.cancelAll());
    win.on('closed', () => dispatcher.cancelAll());
    mainWindow = win;
  };
  open();
  app.on('activate', () => {
    if (BrowserWindow.getAllWindows().length === 0) open();
  });

  // Quitting stops the runs (their checkpoints stay, to resume) and the sandbox's servers first;
  // a shutdown that hangs does not keep the app alive for more than a few seconds.
  let stopping = false;
  app.on('before-quit', (event) => {
    if (stopping) return;
    stopping = true;
    event.preventDefault();
    dispatcher.cancelAll();
    const deadline = new Promise<void>((resolve) => setTimeout(resolve, SHUTDOWN_GRACE_MS).unref());
    Promise.race([handlers.shutdown(), deadline])
      .catch((err: unknown) => console.error('[ferry] shutdown:', err))
      .finally(() => app.quit());
  });
}

// One Ferry at a time: two would share the secrets file and the work directory.
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  app.enableSandbox();
  app.on('web-contents-created', (_event, contents) => guardContents(contents));
  app.on('second-instance', () => {
    if (!mainWindow) return;
    if (mainWindow.isMinimized()) mainWindow.restore();
    mainWindow.focus();
  });
  app.on('window-all-closed', () => {
    if (process.platform !== 'darwin') app.quit();
  });
  start().catch((err: unknown) => {
    console.error(err);
    app.exit(1);
  });
}
