// `ferry serve` as a browser meets it: the token, the cookie, the CSP, the static files, and the
// WebSocket API with its events, all against a real server on 127.0.0.1.
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WireMessage } from '../../shared/api.js';
import { ensureRendererBuilt } from '../../main/serve/rendererBuild.js';
import { CSP, startServer, type RunningServer } from '../../main/serve/server.js';
import { connectTo, sendAll } from '../support/dataset.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-serve-'));
const staticDir = path.join(tmp, 'static');
const INDEX = '<!doctype html><title>Ferry test page</title><script type="module" src="/assets/app.js"></script>';
const SECRET = 'not for the browser';
let server: RunningServer;
let origin: string;
const redis: RedisServer[] = [];

beforeAll(async () => {
  fs.mkdirSync(path.join(staticDir, 'assets'), { recursive: true });
  fs.writeFileSync(path.join(staticDir, 'index.html'), INDEX);
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.js'), 'console.log("ferry");\n');
  fs.writeFileSync(path.join(staticDir, 'assets', 'app.css'), 'body { color: red }\n');
  fs.writeFileSync(path.join(tmp, 'secret.txt'), SECRET);
  server = await startServer({ host: '127.0.0.1', staticDir, workDir: path.join(tmp, 'work') });
  origin = `http://127.0.0.1:${server.port}`;
});

afterAll(async () => {
  await server?.close();
  await Promise.all(redis.map((r) => r.stop()));
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** A raw GET: the path goes out exactly as written (no URL normalisation on the way). */
function get(rawPath: string, headers: Record<string, string> = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port: server.port, path: rawPath, headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** The cookie the first authorised page load sets, as a Cookie header. */
async function cookie(): Promise<string> {
  const page = await get(`/?token=${server.token}`);
  return page.headers['set-cookie']![0]!.split(';')[0]!;
}

describe('HTTP', () => {
  it('refuses a request without the token (403)', async () => {
    for (const p of ['/', '/index.html', '/assets/app.js', `/?token=${server.token}x`, '/?token=']) {
      const answer = await get(p);
      expect(answer.status, p).toBe(403);
      expect(answer.body).not.toContain('Ferry test page');
      expect(answer.headers['set-cookie']).toBeUndefined();
    }
  });

  it('serves the page with the token: CSP, an HttpOnly SameSite=Strict cookie; assets load with the cookie only', async () => {
    const page = await get(`/?token=${server.token}`);
    expect(page.status).toBe(200);
    expect(page.body).toBe(INDEX);
    expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(page.headers['content-security-policy']).toBe("default-src 'self'; connect-src 'self' ws://127.0.0.1:*; style-src 'self' 'unsafe-inline'; img-src 'self' data:");
    expect(page.headers['content-security-policy']).toBe(CSP);
    expect(page.headers['x-content-type-options']).toBe('nosniff');
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const setCookie = page.headers['set-cookie']![0]!;
    expect(setCookie).toMatch(/HttpOnly/);
    expect(setCookie).toMatch(/SameSite=Strict/);

    const withCookie = { Cookie: await cookie() };
    const js = await get('/assets/app.js', withCookie);
    expect(js.status).toBe(200);
    expect(js.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(js.body).toContain('ferry');
    expect((await get('/assets/app.css', withCookie)).headers['content-type']).toBe('text/css; charset=utf-8');
    expect((await get('/', withCookie)).status).toBe(200);
    expect((await get('/assets/app.js', { Cookie: withCookie.Cookie.replace(/=.*/, '=wrong') })).status).toBe(403);
  });

  it('refuses ../ in every spelling, lists no directory, answers only to its own host name', async () => {
    const withCookie = { Cookie: await cookie() };
    for (const p of ['/../secret.txt', '/assets/../../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/..%5csecret.txt', '/assets/%2E%2E/%2E%2E/secret.txt']) {
      const answer = await get(p, withCookie);
      expect([400, 403], p).toContain(answer.status);
      expect(answer.body).not.toContain(SECRET);
    }
    expect((await get('/assets', withCookie)).status).toBe(404);
    expect((await get('/assets/', withCookie)).status).toBe(404);
    expect((await get('/missing.js', withCookie)).status).toBe(404);
    expect((await get('/%E0%A4%A', withCookie)).status).toBe(400);
    // DNS rebinding: another name pointed at 127.0.0.1 is not this server's origin.
    expect((await get(`/?token=${server.token}`, { Host: `evil.example:${server.port}` })).status).toBe(403);
  });

  it('listens on 127.0.0.1 only', async () => {
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/?token=${server.token}`);
    const external = Object.values(os.networkInterfaces())
      .flat()
      .find((a) => a && !a.internal && a.family === 'IPv4');
    if (external) await expect(connect(external.address, server.port)).rejects.toThrow(/ECONNREFUSED/);
    await expect(connect('127.0.0.1', server.port)).resolves.toBeUndefined();
  });
});

/** Opens a WebSocket; resolves when open, rejects with the HTTP status when the upgrade is refused. */
function openSocket(query: string, wsOrigin: string | null = origin): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${server.port}/api${query}`, wsOrigin ? { origin: wsOrigin } : {});
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => reject(new Error(`refused: ${res.statusCode}`)));
    ws.once('error', reject);
  });
}

/** Every message a socket receives, parsed as a WireMessage. */
function inbox(ws: WebSocket): WireMessage[] {
  const messages: WireMessage[] = [];
  ws.on('message', (data) => messages.push(WireMessage.parse(JSON.parse(data.toString()))));
  return messages;
}

async function until<T>(find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const found = find();
    if (found !== undefined) return found;
    if (Date.now() > deadline) throw new Error('not received in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

function replyTo(messages: WireMessage[], id: string) {
  return until(() => messages.find((m): m is Extract<WireMessage, { t: 'reply' }> => m.t === 'reply' && m.id === id));
}

describe('WebSocket /api', () => {
  it('refuses an upgrade without the token, with a wrong one, or from another origin', async () => {
    await expect(openSocket('')).rejects.toThrow('refused: 403');
    await expect(openSocket('?token=nope')).rejects.toThrow('refused: 403');
    await expect(openSocket(`?token=${server.token}`, 'http://evil.example')).rejects.toThrow('refused: 403');
    await expect(openSocket(`?token=${server.token}`, `http://127.0.0.1:${server.port + 1}`)).rejects.toThrow('refused: 403');
    await expect(openSocket(`?token=${server.token}`, null)).rejects.toThrow('refused: 403');
  });

  it('answers a call with a reply envelope; survives malformed messages', async () => {
    const ws = await openSocket(`?token=${server.token}`);
    const messages = inbox(ws);
    ws.send('not json at all');
    ws.send(JSON.stringify({ t: 'call', id: 'broken', input: {} }));
    ws.send(JSON.stringify({ t: 'nonsense' }));
    ws.send(Buffer.from([1, 2, 3]), { binary: true });
    ws.send(JSON.stringify({ t: 'call', id: 'info', name: 'app.info', input: {} }));
    const info = await replyTo(messages, 'info');
    expect(info.envelope).toEqual({ ok: true, value: { version: expect.any(String), keychain: 'none', workDir: path.join(tmp, 'work') } });
    expect((await replyTo(messages, 'broken')).envelope).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    ws.send(JSON.stringify({ t: 'call', id: 'unknown', name: 'no.such.call', input: {} }));
    expect((await replyTo(messages, 'unknown')).envelope).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    ws.close();
  });

  it('broadcasts the events of a run to every socket; a cancel message cancels its call', async () => {
    const [source, target] = await Promise.all([startRedis(), startRedis()]);
    redis.push(source, target);
    const conn = await connectTo(source.port);
    await sendAll(conn, Array.from({ length: 100 }, (_, i) => ['SET', `k:${i}`, `v${i}`]));
    conn.close();
    const yaml = `name: served\nsources: [{ name: one, url: "${source.url}" }]\ntarget: { url: "${target.url}" }\n`;

    const [caller, watcher] = await Promise.all([openSocket(`?token=${server.token}`), openSocket(`?token=${server.token}`)]);
    const [callerInbox, watcherInbox] = [inbox(caller), inbox(watcher)];
    caller.send(JSON.stringify({ t: 'call', id: 'start', name: 'run.start', input: { yaml, resume: false } }));
    const started = await replyTo(callerInbox, 'start');
    expect(started.envelope.ok).toBe(true);
    const { runId } = (started.envelope as { value: { runId: string } }).value;
    caller.send(JSON.stringify({ t: 'call', id: 'wait', name: 'run.wait', input: { runId } }));
    expect((await replyTo(callerInbox, 'wait')).envelope).toMatchObject({ ok: true, value: { outcome: 'done', counts: { written: 100 } } });

    for (const messages of [callerInbox, watcherInbox]) {
      const finished = await until(() => messages.find((m) => m.t === 'event' && m.event.op === runId && m.event.event.type === 'run-finished'));
      expect(finished).toMatchObject({ t: 'event', event: { kind: 'run', op: runId } });
    }

    caller.send(JSON.stringify({ t: 'call', id: 'verify', name: 'verify.run', input: { yaml } }));
    caller.send(JSON.stringify({ t: 'cancel', id: 'verify' }));
    expect((await replyTo(callerInbox, 'verify')).envelope).toEqual({ ok: false, error: { code: 'cancelled', message: 'cancelled' } });
    caller.close();
    watcher.close();
  });
});

describe('close', () => {
  it('closes the sockets and stops listening', async () => {
    const other = await startServer({ host: '127.0.0.1', staticDir, workDir: path.join(tmp, 'work-2') });
    const ws = await new Promise<WebSocket>((resolve, reject) => {
      const s = new WebSocket(`ws://127.0.0.1:${other.port}/api?token=${other.token}`, { origin: `http://127.0.0.1:${other.port}` });
      s.once('open', () => resolve(s));
      s.once('error', reject);
    });
    const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
    await other.close();
    expect(await closed).toBe(1001);
    await expect(connect('127.0.0.1', other.port)).rejects.toThrow(/ECONNREFUSED/);
  });
});

describe('ensureRendererBuilt', () => {
  const root = path.join(tmp, 'repo');
  const at = (file: string, seconds: number) => {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    if (!fs.existsSync(file)) fs.writeFileSync(file, '');
    fs.utimesSync(file, seconds, seconds);
  };

  it('says how to build when there is no build and no Vite config', async () => {
    await expect(ensureRendererBuilt(path.join(tmp, 'empty-repo'))).rejects.toThrow(/npm run build:renderer/);
  });

  it('uses a build newer than renderer/ and shared/ (tests do not count); rebuilds an older one', async () => {
    at(path.join(root, 'renderer', 'src', 'app.tsx'), 1000);
    at(path.join(root, 'shared', 'api.ts'), 1000);
    at(path.join(root, 'out', 'renderer', 'index.html'), 2000);
    // A config that fails when loaded: any attempt to build shows.
    fs.writeFileSync(path.join(root, 'renderer', 'vite.config.ts'), 'throw new Error("rebuilt");\n');
    at(path.join(root, 'renderer', 'vite.config.ts'), 1000);
    expect(await ensureRendererBuilt(root)).toBe(path.join(root, 'out', 'renderer'));
    at(path.join(root, 'renderer', 'src', 'app.test.ts'), 3000);
    expect(await ensureRendererBuilt(root)).toBe(path.join(root, 'out', 'renderer'));
    at(path.join(root, 'shared', 'api.ts'), 3000);
    await expect(ensureRendererBuilt(root)).rejects.toThrow(/rebuilt/);
  });
});

function connect(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    socket.once('connect', () => {
      socket.destroy();
      resolve();
    });
    socket.once('error', reject);
  });
}
