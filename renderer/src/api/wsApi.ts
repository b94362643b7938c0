import { FerryCallError, WireMessage, type AppEvent, type CallName, type FerryApi, type CallInput, type CallOutput } from '../../../shared/api.js';

/** The part of the browser's WebSocket this door uses (tests pass a fake). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(): void;
  onopen: ((ev: unknown) => void) | null;
  onclose: ((ev: unknown) => void) | null;
  onerror: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
}

export interface WsApiOptions {
  /** Prefix of call ids (default random per page): plan and verify events carry the id, and every tab gets every event. */
  callIdPrefix?: string;
  url: string;
  createSocket?: (url: string) => SocketLike;
  /** Reconnect delays: first, then doubled up to max (ms). */
  backoff?: { firstMs: number; maxMs: number };
  setTimer?: (fn: () => void, ms: number) => unknown;
}

const OPEN = 1;

interface Pending {
  resolve(value: unknown): void;
  reject(err: FerryCallError): void;
  /** The call message, kept until it has been sent. */
  message: string;
  sent: boolean;
  cleanup(): void;
}

/** The URL of the host's WebSocket: same host as the page, token from the page's query string. */
export function apiUrlFromLocation(loc: { host: string; search: string; protocol: string }): string {
  const token = new URLSearchParams(loc.search).get('token') ?? '';
  const scheme = loc.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${loc.host}/api?token=${encodeURIComponent(token)}`;
}

/**
 * FerryApi over the WebSocket of `ferry serve`. Calls made while the socket is (re)connecting wait
 * for it; when the socket drops, every call in flight is rejected (the host forgets them too) and
 * the socket reconnects with a growing delay.
 */
export function createWsApi(opts: WsApiOptions): FerryApi & { close(): void } {
  const createSocket = opts.createSocket ?? ((url: string) => new WebSocket(url) as unknown as SocketLike);
  const setTimer = opts.setTimer ?? ((fn: () => void, ms: number) => setTimeout(fn, ms));
  const { firstMs, maxMs } = opts.backoff ?? { firstMs: 250, maxMs: 5000 };
  const pending = new Map<string, Pending>();
  const listeners = new Set<(event: AppEvent) => void>();
  let socket: SocketLike | null = null;
  let nextId = 1;
  const tabId = opts.callIdPrefix ?? Math.random().toString(36).slice(2, 10);
  let delay = firstMs;
  let closed = false;
  let reconnectScheduled = false;

  function connect(): void {
    if (closed) return;
    const ws = createSocket(opts.url);
    socket = ws;
    ws.onopen = () => {
      delay = firstMs;
      for (const p of pending.values()) {
        if (!p.sent) {
          ws.send(p.message);
          p.sent = true;
        }
      }
    };
    ws.onmessage = (ev) => onMessage(ev.data);
    ws.onerror = () => undefined;
    ws.onclose = () => {
      if (socket !== ws) return;
      socket = null;
      const lost = new FerryCallError('The connection to Ferry was lost; reconnecting. Try again.', 'failed');
      for (const [id, p] of pending) {
        pending.delete(id);
        p.cleanup();
        p.reject(lost);
      }
      scheduleReconnect();
    };
  }

  function scheduleReconnect(): void {
    if (closed || reconnectScheduled) return;
    reconnectScheduled = true;
    const wait = delay;
    delay = Math.min(maxMs, delay * 2);
    setTimer(() => {
      reconnectScheduled = false;
      connect();
    }, wait);
  }

  function onMessage(data: unknown): void {
    if (typeof data !== 'string') return;
    let parsed: unknown;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    const msg = WireMessage.safeParse(parsed);
    if (!msg.success) return;
    const m = msg.data;
    if (m.t === 'reply') {
      const p = pending.get(m.id);
      if (!p) return;
      pending.delete(m.id);
      p.cleanup();
      if (m.envelope.ok) p.resolve(m.envelope.value);
      else p.reject(new FerryCallError(m.envelope.error.message, m.envelope.error.code));
    } else if (m.t === 'event') {
      for (const l of listeners) l(m.event);
    }
  }

  function send(text: string): boolean {
    if (socket && socket.readyState === OPEN) {
      socket.send(text);
      return true;
    }
    return false;
  }

  connect();

  return {
    call<K extends CallName>(name: K, input: CallInput<K>, callOpts?: { signal?: AbortSignal }): Promise<CallOutput<K>> {
      const signal = callOpts?.signal;
      if (signal?.aborted) return Promise.reject(new FerryCallError('cancelled', 'cancelled'));
      // Unique across tabs: plan and verify events carry the call id, and every tab gets every event.
      const id = `${tabId}-${nextId++}`;
      return new Promise<CallOutput<K>>((resolve, reject) => {
        const onAbort = () => {
          const p = pending.get(id);
          if (!p) return;
          pending.delete(id);
          if (p.sent) send(JSON.stringify({ t: 'cancel', id }));
          reject(new FerryCallError('cancelled', 'cancelled'));
        };
        const message = JSON.stringify({ t: 'call', id, name, input });
        const p: Pending = {
          resolve: (v) => resolve(v as CallOutput<K>),
          reject,
          message,
          sent: false,
          cleanup: () => signal?.removeEventListener('abort', onAbort),
        };
        pending.set(id, p);
        signal?.addEventListener('abort', onAbort, { once: true });
        p.sent = send(message);
        if (!socket) scheduleReconnect();
      });
    },
    listen(handler) {
      listeners.add(handler);
      return () => {
        listeners.delete(handler);
      };
    },
    close() {
      closed = true;
      const ws = socket;
      socket = null;
      ws?.close();
      for (const [id, p] of pending) {
        pending.delete(id);
        p.cleanup();
        p.reject(new FerryCallError('The connection to Ferry was closed.', 'failed'));
      }
    },
  };
}
