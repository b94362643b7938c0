// The desktop shell. For now it only opens the placeholder page; the workbench (plan, run,
// verify screens over the engine's events) comes with the UI. Security defaults are set from the start.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { app, BrowserWindow, shell } from 'electron';

const here = path.dirname(fileURLToPath(import.meta.url));

function createWindow(): void {
  const win = new BrowserWindow({
    width: 1280,
    height: 800,
    title: 'Ferry',
    webPreferences: { contextIsolation: true, sandbox: true, nodeIntegration: false },
  });
  // No navigation away from the app, and links open in the user's browser, not in Ferry.
  win.webContents.on('will-navigate', (event) => event.preventDefault());
  win.webContents.setWindowOpenHandler(({ url }) => {
    if (url.startsWith('https://')) void shell.openExternal(url);
    return { action: 'deny' };
  });
  void win.loadFile(path.join(here, '../../renderer/index.html'));
}

app.whenReady().then(createWindow, (err: unknown) => {
  console.error(err);
  app.exit(1);
});
app.on('window-all-closed', () => app.quit());
