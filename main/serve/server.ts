// `ferry serve`: the workbench in a browser. One HTTP server on 127.0.0.1 serves the built renderer
// and a WebSocket at /api that carries the contract's WireMessages to the same dispatcher and
// handlers as the Electron app. Everything needs the token printed with the address: the page sets
// a cookie from it (so its assets load), the socket must carry it in its URL and come from the page.
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type net from 'node:net';
import { WebSocketServer, type WebSocket, type RawData } from 'ws';
import { WireMessage, type AppEvent, type Envelope } from '../../shared/api.js';
import { createDispatcher } from '../app/dispatch.js';
import { createHandlers } from '../app/handlers.js';
import { MemorySecretStore } from '../app/secrets.js';
import { resolveStatic, sendFile } from './staticFiles.js';
import { ferryVersion } from './version.js';

export interface ServeOptions {
  /** Default: a free port. */
  port?: number;
  /** Loopback only: the workbench reaches servers with the user's credentials. */
  host: '127.0.0.1';
  /** The built renderer (index.html and its assets). */
  staticDir: string;
  workDir: string;
  /** Default: 24 random bytes, base64url. */
  token?: string;
}

export interface RunningServer {
  /** The page's address with its token: what the user opens. */
  url: string;
  port: number;
  token: string;
  /** Stops the runs and the sandbox, closes every socket and the server. */
  close(): Promise<void>;
}

export const CSP = "default-src 'self'; connect-src 'self' ws://127.0.0.1:*; style-src 'self' 'unsafe-inline'; img-src 'self' data:";

/** A job is at most 1 MB of YAML; JSON escaping can double it. */
const MAX_MESSAGE_BYTES = 8 * 1024 * 1024;
/** A socket that does not read its events is skipped past this much unsent data (replies still go). */
const MAX_BUFFERED_EVENTS_BYTES = 16 * 1024 * 1024;

const SECURITY_HEADERS: http.OutgoingHttpHeaders = {
  'Content-Security-Policy': CSP,
  'X-Content-Type-Options': 'nosniff',
  // The page's address holds the token: it must not travel anywhere as a Referer.
  'Referrer-Policy': 'no-referrer',
  'X-Frame-Options': 'DENY',
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Cache-Control': 'no-store',
};

export async function startServer(opts: ServeOptions): Promise<RunningServer> {
  const token = opts.token ?? crypto.randomBytes(24).toString('base64url');
  const staticRoot = await fs.promises.realpath(opts.staticDir);
  const sockets = new Set<WebSocket>();
  const handlers = createHandlers({ secrets: new MemorySecretStore(), workDir: opts.workDir, version: ferryVersion(), emit: (event) => broadcast(sockets, event) });

  let port = 0;
  // Cookies are shared by every port of a host: the name carries the port, so two servers never mix.
  const cookieName = () => `ferry_token_${port}`;
  const ownHosts = () => new Set([`127.0.0.1:${port}`, `localhost:${port}`]);

  const server = http.createServer((req, res) => {
    void answerHttp(req, res).catch(() => {
      if (!res.headersSent) refuse(res, 500, 'internal error');
      else res.destroy();
    });
  });

  async function answerHttp(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    // A name other than our own (DNS rebinding) is refused before anything else.
    if (!ownHosts().has(req.headers.host ?? '')) return refuse(res, 403, `Ferry serves http://127.0.0.1:${port}/ only`);
    if (req.method !== 'GET' && req.method !== 'HEAD') return refuse(res, 405, 'only GET and HEAD');
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const byQuery = tokenMatches(url.searchParams.get('token'), token);
    if (!byQuery && !tokenMatches(cookieOf(req, cookieName()), token)) {
      return refuse(res, 403, 'Forbidden: open the address that `ferry serve` printed (it carries the access token)');
    }
    const answer = await resolveStatic(staticRoot, (req.url ?? '/').split(/[?#]/)[0]!);
    if (answer.status !== 200) return refuse(res, answer.status, answer.reason);
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value!);
    if (byQuery) res.setHeader('Set-Cookie', `${cookieName()}=${token}; HttpOnly; SameSite=Strict; Path=/`);
    sendFile(req, res, answer);
  }

  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_MESSAGE_BYTES });
  server.on('upgrade', (req: http.IncomingMessage, socket: net.Socket, head: Buffer) => {
    socket.on('error', () => socket.destroy());
    const url = new URL(req.url ?? '/', `http://127.0.0.1:${port}`);
    const allowed =
      url.pathname === '/api' &&
      ownHosts().has(req.headers.host ?? '') &&
      // Only the page itself: another site open in the same browser must not reach the API.
      [...ownHosts()].some((host) => req.headers.origin === `http://${host}`) &&
      tokenMatches(url.searchParams.get('token'), token);
    if (!allowed) {
      socket.end('HTTP/1.1 403 Forbidden\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      sockets.add(ws);
      attach(ws, createDispatcher(handlers), () => sockets.delete(ws));
    });
  });

  port = await listen(server, opts.port ?? 0, opts.host);

  let closing: Promise<void> | null = null;
  const close = () =>
    (closing ??= (async () => {
      await handlers.shutdown();
      await closeSockets(sockets);
      wss.close();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    })());

  return { url: `http://127.0.0.1:${port}/?token=${token}`, port, token, close };
}

/** One socket: calls go to its own dispatcher (ids are the socket's), replies come back on it. */
function attach(ws: WebSocket, dispatcher: ReturnType<typeof createDispatcher>, forget: () => void): void {
  const reply = (id: string, envelope: Envelope) => send(ws, { t: 'reply', id, envelope });
  ws.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return;
    let json: unknown;
    try {
      json = JSON.parse(data.toString());
    } catch {
      return; // not JSON: nothing to answer to
    }
    const parsed = WireMessage.safeParse(json);
    if (!parsed.success) {
      const id = (json as { id?: unknown } | null)?.id;
      if (typeof id === 'string') reply(id, { ok: false, error: { code: 'bad-input', message: `malformed message: ${parsed.error.issues.map((i) => `${i.path.join('.') || 'message'}: ${i.message}`).join('; ')}` } });
      return;
    }
    const message = parsed.data;
    if (message.t === 'call') void dispatcher.call(message.id, message.name, message.input).then((envelope) => reply(message.id, envelope));
    else if (message.t === 'cancel') dispatcher.cancel(message.id);
    // Replies and events only ever go to the page: from it they mean nothing.
  });
  ws.on('error', () => ws.terminate());
  ws.on('close', () => {
    forget();
    // Nobody is left to read the answers of this socket's calls (runs go on: they are not calls).
    dispatcher.cancelAll();
  });
}

function send(ws: WebSocket, message: WireMessage): void {
  if (ws.readyState === ws.OPEN) ws.send(JSON.stringify(message));
}

function broadcast(sockets: Set<WebSocket>, event: AppEvent): void {
  const text = JSON.stringify({ t: 'event', event } satisfies WireMessage);
  for (const ws of sockets) {
    if (ws.readyState === ws.OPEN && ws.bufferedAmount < MAX_BUFFERED_EVENTS_BYTES) ws.send(text);
  }
}

/** Equal tokens, compared in constant time (hashes first: timingSafeEqual needs equal lengths). */
function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const digest = (s: string) => crypto.createHash('sha256').update(s).digest();
  return crypto.timingSafeEqual(digest(given), digest(token));
}

function cookieOf(req: http.IncomingMessage, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

function refuse(res: http.ServerResponse, status: number, message: string): void {
  res.writeHead(status, { ...SECURITY_HEADERS, 'Content-Type': 'text/plain; charset=utf-8' });
  res.end(`${message}\n`);
}

function listen(server: http.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'EADDRINUSE' ? new Error(`port ${port} on ${host} is already in use; choose another port, or leave it out to take a free one`) : err);
    });
    server.listen(port, host, () => resolve((server.address() as net.AddressInfo).port));
  });
}

/** Says goodbye to every socket, and cuts those that do not answer within a second. */
async function closeSockets(sockets: Set<WebSocket>): Promise<void> {
  await Promise.all(
    [...sockets].map(
      (ws) =>
        new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            ws.terminate();
            resolve();
          }, 1000);
          ws.once('close', () => {
            clearTimeout(timer);
            resolve();
          });
          ws.close(1001, 'Ferry is shutting down');
        }),
    ),
  );
}

