import { describe, expect, it } from 'vitest';
import { FerryCallError } from '../../../shared/api.js';
import { apiUrlFromLocation, createWsApi, type SocketLike } from './wsApi.js';

class FakeSocket implements SocketLike {
  readyState = 0;
  sent: unknown[] = [];
  onopen: ((ev: unknown) => void) | null = null;
  onclose: ((ev: unknown) => void) | null = null;
  onerror: ((ev: unknown) => void) | null = null;
  onmessage: ((ev: { data: unknown }) => void) | null = null;
  constructor(readonly url: string) {}
  send(data: string) {
    this.sent.push(JSON.parse(data));
  }
  close() {
    this.drop();
  }
  open() {
    this.readyState = 1;
    this.onopen?.({});
  }
  drop() {
    this.readyState = 3;
    this.onclose?.({});
  }
  receive(msg: unknown) {
    this.onmessage?.({ data: JSON.stringify(msg) });
  }
}

function setup() {
  const sockets: FakeSocket[] = [];
  const timers: Array<{ fn: () => void; ms: number }> = [];
  const api = createWsApi({
    url: 'ws://127.0.0.1:4000/api?token=t0k',
    callIdPrefix: 'tab',
    createSocket: (url) => {
      const s = new FakeSocket(url);
      sockets.push(s);
      return s;
    },
    setTimer: (fn, ms) => timers.push({ fn, ms }),
  });
  return { api, sockets, timers, last: () => sockets[sockets.length - 1]! };
}

describe('wsApi', () => {
  it('builds the URL from the page location', () => {
    expect(apiUrlFromLocation({ host: '127.0.0.1:4000', search: '?token=a%2Bb', protocol: 'http:' })).toBe('ws://127.0.0.1:4000/api?token=a%2Bb');
  });

  it('sends calls once open and matches replies by id', async () => {
    const { api, last } = setup();
    const info = api.call('app.info', {});
    const validate = api.call('job.validate', { yaml: 'name: x' });
    expect(last().sent).toEqual([]);
    last().open();
    expect(last().sent).toEqual([
      { t: 'call', id: 'tab-1', name: 'app.info', input: {} },
      { t: 'call', id: 'tab-2', name: 'job.validate', input: { yaml: 'name: x' } },
    ]);
    last().receive({ t: 'reply', id: 'tab-2', envelope: { ok: false, error: { message: 'bad yaml', code: 'bad-input' } } });
    last().receive({ t: 'reply', id: 'tab-1', envelope: { ok: true, value: { version: '0.1.0', keychain: 'os', workDir: '/w' } } });
    await expect(info).resolves.toEqual({ version: '0.1.0', keychain: 'os', workDir: '/w' });
    await expect(validate).rejects.toMatchObject({ name: 'FerryCallError', code: 'bad-input', message: 'bad yaml' });
  });

  it('dispatches events to listeners until they unsubscribe', () => {
    const { api, last } = setup();
    last().open();
    const seen: string[] = [];
    const off = api.listen((e) => seen.push(e.event.type));
    const event = { kind: 'run', op: 'r1', event: { type: 'warning', message: 'hi', at: 1 } };
    last().receive({ t: 'event', event });
    last().receive({ t: 'event', event: { kind: 'run', op: 'r1', event: { type: 'nonsense' } } });
    off();
    last().receive({ t: 'event', event });
    expect(seen).toEqual(['warning']);
  });

  it('an abort sends cancel and rejects with cancelled', async () => {
    const { api, last } = setup();
    last().open();
    const abort = new AbortController();
    const plan = api.call('plan.run', { yaml: 'x', sample: null }, { signal: abort.signal });
    abort.abort();
    await expect(plan).rejects.toMatchObject({ code: 'cancelled' });
    expect(last().sent[1]).toEqual({ t: 'cancel', id: 'tab-1' });
    // A late reply is ignored.
    last().receive({ t: 'reply', id: 'tab-1', envelope: { ok: true, value: {} } });
  });

  it('a dropped socket fails the calls in flight and reconnects with a growing delay', async () => {
    const { api, sockets, timers, last } = setup();
    last().open();
    const wait = api.call('run.wait', { runId: 'r1' });
    last().drop();
    const err = await wait.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FerryCallError);
    expect(err).toMatchObject({ code: 'failed' });
    expect((err as Error).message).toMatch(/connection to Ferry was lost/);
    expect(timers.map((t) => t.ms)).toEqual([250]);
    timers.shift()!.fn();
    expect(sockets).toHaveLength(2);
    last().drop(); // the host is still away
    expect(timers.map((t) => t.ms)).toEqual([500]);
    timers.shift()!.fn();
    // A call made while connecting waits for the socket.
    const info = api.call('app.info', {});
    last().open();
    expect(last().sent).toEqual([{ t: 'call', id: 'tab-2', name: 'app.info', input: {} }]);
    last().receive({ t: 'reply', id: 'tab-2', envelope: { ok: true, value: { version: '1', keychain: 'none', workDir: '/' } } });
    await expect(info).resolves.toMatchObject({ version: '1' });
    // Once connected again the delay starts over.
    last().drop();
    expect(timers.map((t) => t.ms)).toEqual([250]);
  });
});
