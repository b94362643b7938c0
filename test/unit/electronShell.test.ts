// The Electron shell without Electron: the IPC door (with a fake ipcMain), the sender check, the
// preload (with a fake 'electron' module, its page-side function run from its text in a separate
// context, as Electron does), the safeStorage secret store (with a fake safeStorage), and a static
// guard on the window's security settings.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { IPC, type AppEvent, type Envelope, type FerryApi } from '../../shared/api.js';
import { createDispatcher } from '../../main/app/dispatch.js';
import type { Handlers } from '../../main/app/handlers.js';
import { appSenderCheck, isAppUrl, registerIpc, type DispatcherLike, type IpcEventLike, type SenderFrame } from '../../main/electron/ipc.js';
import { SafeStorageSecretStore, type SafeStorageLike } from '../../main/electron/secretStore.js';
import { REPO_ROOT } from '../support/cli.js';

// --- the preload's view of Electron -------------------------------------------------------------

const electronFake = vi.hoisted(() => ({
  executed: [] as Array<{ func: (...args: unknown[]) => unknown; args?: unknown[] }>,
  exposed: [] as string[],
  sent: [] as Array<{ channel: string; args: unknown[] }>,
  listeners: new Map<string, Set<(...args: unknown[]) => void>>(),
  reply: (_payload: { id: string; name: string; input: unknown }): Promise<unknown> => Promise.resolve({ ok: true, value: {} }),
}));

vi.mock('electron', () => ({
  contextBridge: {
    executeInMainWorld: (script: { func: (...args: unknown[]) => unknown; args?: unknown[] }) => {
      electronFake.executed.push(script);
    },
    exposeInMainWorld: (key: string) => {
      electronFake.exposed.push(key);
    },
  },
  ipcRenderer: {
    invoke: (channel: string, payload: { id: string; name: string; input: unknown }) => {
      electronFake.sent.push({ channel, args: [payload] });
      return electronFake.reply(payload);
    },
    send: (channel: string, ...args: unknown[]) => {
      electronFake.sent.push({ channel, args });
    },
    on: (channel: string, listener: (...args: unknown[]) => void) => {
      const set = electronFake.listeners.get(channel) ?? new Set();
      set.add(listener);
      electronFake.listeners.set(channel, set);
    },
    removeListener: (channel: string, listener: (...args: unknown[]) => void) => {
      electronFake.listeners.get(channel)?.delete(listener);
    },
  },
}));

// --- IPC ------------------------------------------------------------------------------------------

const RENDERER_INDEX = path.join(REPO_ROOT, 'out/renderer/index.html');
const APP_URL = `${pathToFileURL(RENDERER_INDEX).href}#/plan`;
const trusted: SenderFrame = { url: APP_URL, parent: null };

type Listener = (event: IpcEventLike, ...args: unknown[]) => unknown;

function fakeIpcMain() {
  const handlers = new Map<string, Listener>();
  const listeners = new Map<string, Listener>();
  return {
    handlers,
    listeners,
    handle(channel: string, listener: Listener) {
      if (handlers.has(channel)) throw new Error(`second handler for ${channel}`);
      handlers.set(channel, listener);
    },
    on(channel: string, listener: Listener) {
      listeners.set(channel, listener);
    },
    invoke(frame: SenderFrame | null, payload: unknown): Promise<unknown> {
      return Promise.resolve(handlers.get(IPC.call)!({ senderFrame: frame }, payload));
    },
    send(frame: SenderFrame | null, id: unknown): void {
      listeners.get(IPC.cancel)!({ senderFrame: frame }, id);
    },
  };
}

function recordingDispatcher(reply: Envelope = { ok: true, value: { version: '1.2.3' } }) {
  const calls: Array<[string, string, unknown]> = [];
  const cancels: string[] = [];
  const dispatcher: DispatcherLike = {
    async call(id, name, rawInput) {
      calls.push([id, name, rawInput]);
      return reply;
    },
    cancel(id) {
      cancels.push(id);
    },
  };
  return { dispatcher, calls, cancels };
}

function setUp(dispatcher: DispatcherLike, send: (event: AppEvent) => void = () => {}) {
  const ipcMain = fakeIpcMain();
  const logged: string[] = [];
  const bridge = registerIpc({
    ipcMain,
    dispatcher,
    isTrustedSender: appSenderCheck({ rendererIndex: RENDERER_INDEX }),
    send,
    log: (message) => logged.push(message),
  });
  return { ipcMain, logged, bridge };
}

describe('Electron IPC door', () => {
  it('registers the call and cancel channels of the contract', () => {
    const { ipcMain } = setUp(recordingDispatcher().dispatcher);
    expect([...ipcMain.handlers.keys()]).toEqual([IPC.call]);
    expect([...ipcMain.listeners.keys()]).toEqual([IPC.cancel]);
  });

  it("passes a call from the app's own page to the dispatcher and returns its envelope", async () => {
    const { dispatcher, calls } = recordingDispatcher();
    const { ipcMain, logged } = setUp(dispatcher);
    const reply = await ipcMain.invoke(trusted, { id: 'c1', name: 'app.info', input: {} });
    expect(reply).toEqual({ ok: true, value: { version: '1.2.3' } });
    expect(calls).toEqual([['c1', 'app.info', {}]]);
    expect(logged).toEqual([]);
  });

  it('refuses and logs calls from any other sender', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    const { ipcMain, logged } = setUp(dispatcher);
    const senders: Array<SenderFrame | null> = [
      { url: 'https://evil.example/', parent: null },
      { url: pathToFileURL(path.join(REPO_ROOT, 'out/renderer/other.html')).href, parent: null },
      { url: 'file:///etc/passwd', parent: null },
      { url: APP_URL, parent: { url: APP_URL } }, // a sub-frame, even of the app's own page
      null, // the frame is gone
    ];
    for (const frame of senders) {
      expect(await ipcMain.invoke(frame, { id: 'c1', name: 'app.info', input: {} })).toEqual({
        ok: false,
        error: { code: 'bad-input', message: 'untrusted sender' },
      });
    }
    expect(calls).toEqual([]);
    expect(logged).toHaveLength(senders.length);
    expect(logged[0]).toContain('https://evil.example/');
  });

  it('refuses a malformed call before the dispatcher', async () => {
    const { dispatcher, calls } = recordingDispatcher();
    const { ipcMain } = setUp(dispatcher);
    for (const payload of [undefined, 'app.info', { name: 'app.info', input: {} }, { id: 7, name: 'app.info' }, { id: 'c1' }, { id: 'x'.repeat(500), name: 'app.info' }]) {
      const reply = (await ipcMain.invoke(trusted, payload)) as Envelope;
      expect(reply.ok).toBe(false);
      expect(!reply.ok && reply.error.code).toBe('bad-input');
    }
    expect(calls).toEqual([]);
  });

  it('returns bad-input for an input that fails the contract (through the real dispatcher)', async () => {
    const appInfo = vi.fn(async () => ({ version: '1.2.3', keychain: 'none' as const, workDir: '/w' }));
    const dispatcher = createDispatcher({ 'app.info': appInfo } as unknown as Handlers);
    const { ipcMain } = setUp(dispatcher);

    const ok = await ipcMain.invoke(trusted, { id: 'c1', name: 'app.info', input: {} });
    expect(ok).toEqual({ ok: true, value: { version: '1.2.3', keychain: 'none', workDir: '/w' } });

    const badInput = (await ipcMain.invoke(trusted, { id: 'c2', name: 'job.validate', input: { yaml: 42 } })) as Envelope;
    expect(badInput.ok).toBe(false);
    expect(!badInput.ok && badInput.error.code).toBe('bad-input');
    expect(!badInput.ok && badInput.error.message).toContain('yaml');

    const unknown = (await ipcMain.invoke(trusted, { id: 'c3', name: 'fs.delete', input: {} })) as Envelope;
    expect(!unknown.ok && unknown.error.code).toBe('bad-input');
    expect(appInfo).toHaveBeenCalledTimes(1);
  });

  it('turns a dispatcher that throws into a failed envelope without its stack', async () => {
    const { ipcMain, logged } = setUp({
      call: async () => {
        throw new Error('boom at /secret/path');
      },
      cancel: () => {},
    });
    expect(await ipcMain.invoke(trusted, { id: 'c1', name: 'app.info', input: {} })).toEqual({ ok: false, error: { code: 'failed', message: 'internal error' } });
    expect(logged.join('\n')).toContain('boom');
  });

  it('passes a cancel from the app to the dispatcher, and ignores it from anyone else', () => {
    const { dispatcher, cancels } = recordingDispatcher();
    const { ipcMain, logged } = setUp(dispatcher);
    ipcMain.send(trusted, 'c1');
    ipcMain.send({ url: 'https://evil.example/', parent: null }, 'c2');
    ipcMain.send(trusted, 42);
    expect(cancels).toEqual(['c1']);
    expect(logged).toHaveLength(1);
  });

  it('cancels a call in flight through the real dispatcher', async () => {
    let started!: () => void;
    const running = new Promise<void>((resolve) => (started = resolve));
    const handlers = {
      'run.wait': (_input: unknown, ctx: { signal: AbortSignal }) =>
        new Promise((_resolve, reject) => {
          started();
          ctx.signal.addEventListener('abort', () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' })));
        }),
    };
    const { ipcMain } = setUp(createDispatcher(handlers as unknown as Handlers));
    const reply = ipcMain.invoke(trusted, { id: 'w1', name: 'run.wait', input: { runId: 'r1' } });
    await running;
    ipcMain.send(trusted, 'w1');
    expect(await reply).toEqual({ ok: false, error: { code: 'cancelled', message: 'cancelled' } });
  });

  it('emits events to the window, and a closed window drops them without throwing', () => {
    const sent: AppEvent[] = [];
    const event: AppEvent = { kind: 'run', op: 'r1', event: { type: 'warning', message: 'hello', at: 1 } as AppEvent['event'] };
    const { bridge } = setUp(recordingDispatcher().dispatcher, (e) => sent.push(e));
    bridge.emit(event);
    expect(sent).toEqual([event]);
    const closed = setUp(recordingDispatcher().dispatcher, () => {
      throw new Error('Object has been destroyed');
    });
    expect(() => closed.bridge.emit(event)).not.toThrow();
    expect(closed.logged[0]).toContain('dropped an event');
  });
});

describe("the app's own URL", () => {
  it('is exactly the built index.html (any hash or query) without a dev server', () => {
    const where = { rendererIndex: RENDERER_INDEX };
    expect(isAppUrl(pathToFileURL(RENDERER_INDEX).href, where)).toBe(true);
    expect(isAppUrl(`${pathToFileURL(RENDERER_INDEX).href}?x=1#/run`, where)).toBe(true);
    expect(isAppUrl(pathToFileURL(path.join(REPO_ROOT, 'out/renderer/../renderer/index.html')).href, where)).toBe(true);
    expect(isAppUrl(pathToFileURL(path.join(REPO_ROOT, 'out/renderer/assets/x.html')).href, where)).toBe(false);
    expect(isAppUrl('file://evil.example/out/renderer/index.html', where)).toBe(false);
    expect(isAppUrl('http://localhost:5173/', where)).toBe(false);
    expect(isAppUrl('not a url', where)).toBe(false);
  });

  it("is the dev server's origin in development, and nothing else", () => {
    const where = { devUrl: 'http://localhost:5173/', rendererIndex: RENDERER_INDEX };
    expect(isAppUrl('http://localhost:5173/#/plan', where)).toBe(true);
    expect(isAppUrl('http://localhost:5174/', where)).toBe(false);
    expect(isAppUrl('https://localhost:5173/', where)).toBe(false);
    expect(isAppUrl(pathToFileURL(RENDERER_INDEX).href, where)).toBe(false);
  });
});

// --- preload --------------------------------------------------------------------------------------

describe('preload', () => {
  /** Loads the preload against the fake Electron, then runs its page-side function from its text in a fresh context. */
  async function loadPreload(): Promise<{ ferry: FerryApi; page: vm.Context }> {
    vi.resetModules();
    electronFake.executed.length = 0;
    electronFake.exposed.length = 0;
    electronFake.sent.length = 0;
    electronFake.listeners.clear();
    await import('../../main/electron/preload.js');
    expect(electronFake.executed).toHaveLength(1);
    const { func, args = [] } = electronFake.executed[0];
    // Electron serializes the function: nothing from the preload's module scope comes along.
    const page = vm.createContext({ AbortController });
    const install = vm.runInContext(`(${func.toString()})`, page) as (...a: unknown[]) => void;
    install(...args);
    return { ferry: page.ferry as FerryApi, page };
  }

  it('gives the page window.ferry and nothing else', async () => {
    const { ferry, page } = await loadPreload();
    expect(electronFake.exposed).toEqual([]);
    expect(Object.keys(page).sort()).toEqual(['AbortController', 'ferry']);
    expect(Object.keys(ferry).sort()).toEqual(['call', 'listen']);
    expect(Object.isFrozen(ferry)).toBe(true);
  });

  it('invokes the call channel and unwraps the envelope', async () => {
    const { ferry } = await loadPreload();
    electronFake.reply = async () => ({ ok: true, value: { names: ['A'] } });
    expect(await ferry.call('secret.list', {})).toEqual({ names: ['A'] });
    const [sent] = electronFake.sent;
    expect(sent.channel).toBe(IPC.call);
    expect(sent.args[0]).toMatchObject({ name: 'secret.list', input: {} });
    expect(typeof (sent.args[0] as { id: unknown }).id).toBe('string');
  });

  it("rejects with the page's own Error named FerryCallError, with the code", async () => {
    const { ferry } = await loadPreload();
    electronFake.reply = async () => ({ ok: false, error: { code: 'unknown-host-key', message: 'host key of bastion is new' } });
    const err = await ferry.call('endpoint.test', { yaml: '', endpoint: 'target' }).catch((e: unknown) => e);
    expect(err).toMatchObject({ name: 'FerryCallError', code: 'unknown-host-key', message: 'host key of bastion is new' });
    electronFake.reply = async () => {
      throw new Error('ipc broke');
    };
    expect(await ferry.call('app.info', {}).catch((e: unknown) => e)).toMatchObject({ name: 'FerryCallError', code: 'failed' });
  });

  it('gives every call its own id, and aborting sends a cancel with that id', async () => {
    const { ferry } = await loadPreload();
    electronFake.reply = () => new Promise(() => {});
    const controller = new AbortController();
    void ferry.call('app.info', {});
    const pending = ferry.call('run.wait', { runId: 'r1' }, { signal: controller.signal });
    controller.abort();
    expect(await pending.catch((e: unknown) => e)).toMatchObject({ name: 'FerryCallError', code: 'cancelled' });
    const ids = electronFake.sent.filter((s) => s.channel === IPC.call).map((s) => (s.args[0] as { id: string }).id);
    expect(new Set(ids).size).toBe(2);
    expect(electronFake.sent.filter((s) => s.channel === IPC.cancel)).toEqual([{ channel: IPC.cancel, args: [ids[1]] }]);

    const already = new AbortController();
    already.abort();
    expect(await ferry.call('app.info', {}, { signal: already.signal }).catch((e: unknown) => e)).toMatchObject({ code: 'cancelled' });
    expect(electronFake.sent.filter((s) => s.channel === IPC.call)).toHaveLength(2);
  });

  it('passes events without the Electron event object, and unsubscribes', async () => {
    const { ferry } = await loadPreload();
    const got: unknown[][] = [];
    const off = ferry.listen((...args: unknown[]) => got.push(args));
    const event = { kind: 'plan', op: 'c1', event: { type: 'warning', message: 'x', at: 1 } };
    for (const listener of electronFake.listeners.get(IPC.event) ?? []) listener({ sender: 'the Electron event' }, event);
    expect(got).toEqual([[event]]);
    off();
    expect(electronFake.listeners.get(IPC.event)?.size).toBe(0);
  });
});

// --- secrets --------------------------------------------------------------------------------------

/** A stand-in for safeStorage: "encrypts" by reversing the bytes. */
function fakeSafeStorage(opts: { available?: boolean; backend?: string } = {}): SafeStorageLike {
  const reverse = (b: Buffer) => Buffer.from(b).reverse();
  return {
    isEncryptionAvailable: () => opts.available ?? true,
    encryptString: (plain) => {
      if (!(opts.available ?? true)) throw new Error('Encryption is not available.');
      return reverse(Buffer.from(plain, 'utf8'));
    },
    decryptString: (encrypted) => {
      const text = reverse(encrypted).toString('utf8');
      if (!text.endsWith('!')) throw new Error('Error while decrypting the ciphertext provided to safeStorage.decryptString.');
      return text;
    },
    getSelectedStorageBackend: () => opts.backend ?? 'gnome_libsecret',
  };
}

describe('SafeStorageSecretStore', () => {
  let dir: string;
  beforeEach(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-secrets-'));
  });
  afterEach(() => {
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('round-trips values through a 0600 file that holds no plaintext', () => {
    const file = path.join(dir, 'userData', 'secrets.json');
    const store = new SafeStorageSecretStore(fakeSafeStorage(), file, 'linux');
    expect(store.keychain).toBe('os');
    store.set('PROD_PASSWORD', 'hunter2-Ü!');
    store.set('A_TOKEN', 'tok-123!');
    expect(store.get('PROD_PASSWORD')).toBe('hunter2-Ü!');
    expect(store.names()).toEqual(['A_TOKEN', 'PROD_PASSWORD']);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('hunter2');
    expect(text).not.toContain('tok-123');
    expect(text).toContain('PROD_PASSWORD');
    expect(fs.readdirSync(path.dirname(file))).toEqual(['secrets.json']);

    const again = new SafeStorageSecretStore(fakeSafeStorage(), file, 'linux');
    expect(again.get('PROD_PASSWORD')).toBe('hunter2-Ü!');
    expect(again.get('MISSING')).toBeUndefined();
    again.set('PROD_PASSWORD', 'changed!');
    expect(new SafeStorageSecretStore(fakeSafeStorage(), file, 'linux').get('PROD_PASSWORD')).toBe('changed!');
  });

  it("reports keychain 'none' for Linux's basic_text and unknown backends, 'os' elsewhere", () => {
    const file = path.join(dir, 'secrets.json');
    expect(new SafeStorageSecretStore(fakeSafeStorage({ backend: 'basic_text' }), file, 'linux').keychain).toBe('none');
    expect(new SafeStorageSecretStore(fakeSafeStorage({ backend: 'unknown' }), file, 'linux').keychain).toBe('none');
    expect(new SafeStorageSecretStore(fakeSafeStorage({ backend: 'kwallet6' }), file, 'linux').keychain).toBe('os');
    expect(new SafeStorageSecretStore(fakeSafeStorage({ backend: 'basic_text' }), file, 'darwin').keychain).toBe('os');
    const basic = new SafeStorageSecretStore(fakeSafeStorage({ backend: 'basic_text' }), file, 'linux');
    basic.set('S', 'still kept!');
    expect(basic.get('S')).toBe('still kept!');
    expect(fs.readFileSync(file, 'utf8')).not.toContain('still kept');
  });

  it("still keeps values when safeStorage cannot encrypt, and says keychain 'none'", () => {
    const file = path.join(dir, 'secrets.json');
    const store = new SafeStorageSecretStore(fakeSafeStorage({ available: false }), file, 'win32');
    expect(store.keychain).toBe('none');
    store.set('S', 'plain-ish');
    expect(store.get('S')).toBe('plain-ish');
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
    expect(fs.readFileSync(file, 'utf8')).not.toContain('plain-ish');
  });

  it('gives undefined for a value it cannot decrypt (another machine or key)', () => {
    const file = path.join(dir, 'secrets.json');
    fs.writeFileSync(file, JSON.stringify({ version: 1, secrets: { S: { enc: 'safeStorage', data: Buffer.from('garbage').toString('base64') } } }));
    const store = new SafeStorageSecretStore(fakeSafeStorage(), file, 'linux');
    expect(store.names()).toEqual(['S']);
    expect(store.get('S')).toBeUndefined();
  });
});

// --- the window's security settings (a cheap guard against regressions) -------------------------

describe('main.ts security settings', () => {
  const source = fs.readFileSync(path.join(REPO_ROOT, 'main/electron/main.ts'), 'utf8');

  it('keeps the renderer isolated, sandboxed and without Node', () => {
    expect(source).toMatch(/contextIsolation:\s*true/);
    expect(source).toMatch(/sandbox:\s*true/);
    expect(source).toMatch(/nodeIntegration:\s*false/);
    expect(source).toMatch(/webSecurity:\s*true/);
    expect(source).not.toMatch(/contextIsolation:\s*false|sandbox:\s*false|nodeIntegration:\s*true|webSecurity:\s*false|allowRunningInsecureContent:\s*true/);
    expect(source).toMatch(/app\.enableSandbox\(\)/);
  });

  it('blocks navigation and new windows, denies permissions, sends a CSP', () => {
    expect(source).toMatch(/'will-navigate'[\s\S]{0,200}preventDefault\(\)/);
    expect(source).toMatch(/setWindowOpenHandler\([\s\S]{0,200}action:\s*'deny'/);
    expect(source).not.toMatch(/action:\s*'allow'/);
    expect(source).toMatch(/setPermissionRequestHandler\([^)]*\)\s*=>\s*callback\(false\)/);
    expect(source).toMatch(/onHeadersReceived[\s\S]{0,300}Content-Security-Policy/);
  });
});
