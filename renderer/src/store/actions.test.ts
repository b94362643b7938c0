import { describe, expect, it } from 'vitest';
import { FerryCallError, type AppEvent, type CallInput, type CallName, type CallOutput, type FerryApi } from '../../../shared/api.js';
import { createActions } from './actions.js';
import { app, counts, ev } from './eventFixtures.js';
import { createFerryStore } from './store.js';

type Handler = (input: unknown, signal?: AbortSignal) => Promise<unknown>;

/** A host in a test: each call answered by a handler; `emit` plays the event stream. */
function fakeHost(handlers: Partial<Record<CallName, Handler>>) {
  const listeners = new Set<(e: AppEvent) => void>();
  const calls: Array<{ name: CallName; input: unknown }> = [];
  const api: FerryApi = {
    call<K extends CallName>(name: K, input: CallInput<K>, opts?: { signal?: AbortSignal }): Promise<CallOutput<K>> {
      calls.push({ name, input });
      const h = handlers[name];
      if (!h) return Promise.reject(new FerryCallError(`no handler for ${name}`, 'failed'));
      return h(input, opts?.signal) as Promise<CallOutput<K>>;
    },
    listen(handler) {
      listeners.add(handler);
      return () => listeners.delete(handler);
    },
  };
  return { api, calls, emit: (e: AppEvent) => listeners.forEach((l) => l(e)) };
}

/** Resolves once the store's state satisfies `pred` (no sleeps: it listens to the store). */
function until(store: ReturnType<typeof createFerryStore>, pred: (s: ReturnType<ReturnType<typeof createFerryStore>['getState']>) => boolean): Promise<void> {
  return new Promise((resolve) => {
    if (pred(store.getState())) return resolve();
    const off = store.subscribe((s) => {
      if (pred(s)) {
        off();
        resolve();
      }
    });
  });
}

function deferred<T>() {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const YAML = 'name: j\nsources: [{ name: a, url: "redis://127.0.0.1:6379" }]\ntarget: { url: "redis://127.0.0.1:6380" }\noptions: { latencyBudgetMs: 7 }\n';

describe('actions', () => {
  it('run: start, events, run.wait sets the outcome', async () => {
    const wait = deferred<CallOutput<'run.wait'>>();
    const host = fakeHost({
      'run.start': async () => ({ runId: 'r1' }),
      'run.wait': () => wait.promise,
    });
    const store = createFerryStore({ initialYaml: YAML });
    host.api.listen((e) => store.getState().applyEvent(e));
    const actions = createActions(host.api, store);
    await actions.startRun();
    expect(store.getState().run).toMatchObject({ runId: 'r1', status: 'running', pending: null, budgetMs: 7 });
    expect(host.calls.map((c) => c.name)).toEqual(['run.start', 'run.wait']);
    expect(host.calls[0]!.input).toEqual({ yaml: YAML, resume: false, live: false, acceptNewHostKeys: false });
    host.emit(app('run', 'r1', ev.runStarted(['a'])));
    host.emit(app('run', 'r1', ev.progress('a', 10, 10)));
    host.emit(app('run', 'r1', ev.stage('a', 'done')));
    wait.resolve({ runId: 'r1', outcome: 'done', counts: counts({ scanned: 10, written: 10 }), perSource: { a: counts({ scanned: 10, written: 10 }) } });
    await until(store, (st) => st.run.outcome !== null);
    expect(store.getState().run.status).toBe('done');
    expect(store.getState().run.outcome?.counts.written).toBe(10);
    expect(store.getState().run.sources.a!.progress).toBe(100);
  });

  it('events that arrive before run.start answers are kept', async () => {
    const start = deferred<{ runId: string }>();
    const host = fakeHost({ 'run.start': () => start.promise, 'run.wait': () => new Promise(() => undefined) });
    const store = createFerryStore({ initialYaml: YAML });
    host.api.listen((e) => store.getState().applyEvent(e));
    const started = createActions(host.api, store).startRun();
    host.emit(app('run', 'r7', ev.runStarted(['a'])));
    host.emit(app('run', 'r7', ev.progress('a', 5, 10)));
    start.resolve({ runId: 'r7' });
    await started;
    expect(store.getState().run.runId).toBe('r7');
    expect(store.getState().run.sources.a!.progress).toBe(50);
  });

  it('pause, then resume as a new run id', async () => {
    let waits = 0;
    const host = fakeHost({
      'run.start': async () => ({ runId: 'r1' }),
      'run.wait': () => {
        waits++;
        return new Promise(() => undefined);
      },
      'run.pause': async () => ({}),
      'run.resume': async () => ({ runId: 'r2' }),
    });
    const store = createFerryStore({ initialYaml: YAML });
    host.api.listen((e) => store.getState().applyEvent(e));
    const actions = createActions(host.api, store);
    await actions.startRun();
    host.emit(app('run', 'r1', ev.runStarted(['a'])));
    await actions.pauseRun();
    expect(store.getState().run.pending).toBe('pause');
    host.emit(app('run', 'r1', ev.finished('stopped', { a: counts({ scanned: 4 }) })));
    expect(store.getState().run.status).toBe('paused');
    await actions.resumeRun();
    expect(store.getState().run).toMatchObject({ runId: 'r2', status: 'running', pending: null });
    expect(host.calls.find((c) => c.name === 'run.resume')!.input).toEqual({ runId: 'r1' });
    expect(waits).toBe(2);
    host.emit(app('run', 'r2', ev.runStarted(['a'], undefined, true)));
    host.emit(app('run', 'r2', ev.finished('done', { a: counts({ scanned: 10 }) })));
    expect(store.getState().run.status).toBe('done');
  });

  it('an unknown host key is asked about, and the call made again when accepted', async () => {
    let tries = 0;
    const facts = {
      role: 'source' as const, name: 'a', address: '10.0.0.1:6379', reachable: true, rttMs: 0.4, version: '7.2.4', rdbVersion: 11, mode: 'standalone' as const,
      nodes: [], usedMemory: 1024, maxmemory: 0, maxmemoryPolicy: 'noeviction', keyspace: [{ db: 0, keys: 10, expires: 1 }], commands: { DUMP: 'allowed' as const }, notifyKeyspaceEvents: '', decisions: [],
    };
    const host = fakeHost({
      'endpoint.test': async (input) => {
        tries++;
        if (!(input as { acceptNewHostKeys: boolean }).acceptNewHostKeys) throw new FerryCallError('bastion.example presents an unknown host key SHA256:Zm9v', 'unknown-host-key');
        return facts;
      },
    });
    const store = createFerryStore({ initialYaml: YAML });
    const testing = createActions(host.api, store).testEndpoint('a');
    await until(store, (st) => st.ui.hostKey !== null);
    const q = store.getState().ui.hostKey;
    expect(q?.message).toContain('SHA256:Zm9v');
    store.getState().answerHostKey(true);
    await testing;
    expect(tries).toBe(2);
    expect(store.getState().job.endpoints.a).toMatchObject({ status: 'done', error: null });
    expect(store.getState().job.endpoints.a!.facts?.version).toBe('7.2.4');
  });

  it('a host key refused: the call is not made again', async () => {
    const host = fakeHost({ 'plan.run': async () => Promise.reject(new FerryCallError('unknown host key SHA256:x', 'unknown-host-key')) });
    const store = createFerryStore({ initialYaml: YAML });
    const planning = createActions(host.api, store).runPlan();
    await until(store, (st) => st.ui.hostKey !== null);
    store.getState().answerHostKey(false);
    await planning;
    expect(host.calls.filter((c) => c.name === 'plan.run')).toHaveLength(1);
    expect(store.getState().plan.status).toBe('failed');
  });

  it('validate lists the host problems; a secret replaces the URL password', async () => {
    const host = fakeHost({
      'job.validate': async () => ({ ok: false, problems: [{ path: 'sources[0].url', message: 'environment variable X is not set' }] }),
      'secret.set': async () => ({ keychain: 'os' as const }),
    });
    const store = createFerryStore({ initialYaml: 'name: j\nsources: [{ name: a, url: "redis://app:hunter2@10.0.0.1:6379" }]\ntarget: { url: "redis://127.0.0.1:6380" }\n' });
    const actions = createActions(host.api, store);
    await actions.validate();
    expect(store.getState().job.problems).toEqual([{ path: 'sources[0].url', message: 'environment variable X is not set' }]);
    expect(await actions.storeSecret('A_PASSWORD', '', { path: ['sources', 0, 'url'], kind: 'url' })).toBe(true);
    expect(host.calls.find((c) => c.name === 'secret.set')!.input).toEqual({ name: 'A_PASSWORD', value: 'hunter2' });
    expect(store.getState().job.yaml).toContain('redis://app:${secret:A_PASSWORD}@10.0.0.1:6379');
    expect(store.getState().job.yaml).not.toContain('hunter2');
  });

  it('sandbox: its job is loaded into the job screen', async () => {
    const host = fakeHost({ 'sandbox.start': async () => ({ yaml: YAML, path: '/tmp/sandbox/job.yaml' }) });
    const store = createFerryStore();
    store.getState().setScreen('run');
    await createActions(host.api, store).startSandbox();
    expect(store.getState().job).toMatchObject({ yaml: YAML, path: '/tmp/sandbox/job.yaml', dirty: false });
    expect(store.getState().ui.screen).toBe('job');
    expect(store.getState().ui.sandbox.status).toBe('on');
  });

  it('verify: the call result fills the summary; cancel marks it cancelled', async () => {
    const host = fakeHost({
      'verify.run': (_input, signal) =>
        new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new FerryCallError('cancelled', 'cancelled')))),
    });
    const store = createFerryStore({ initialYaml: YAML });
    const actions = createActions(host.api, store);
    const running = actions.runVerify();
    expect(store.getState().verify.status).toBe('running');
    actions.cancelVerify();
    await running;
    expect(store.getState().verify.status).toBe('cancelled');
  });
});

describe('actions: live sync and the cut-over', () => {
  const NODE = '127.0.0.1:6379';
  type Verdict = CallOutput<'run.cutover'>;

  /** A store with a live run r1 that streams, caught up. */
  async function liveHost(handlers: Partial<Record<CallName, Handler>>) {
    const host = fakeHost({ 'run.start': async () => ({ runId: 'r1' }), 'run.wait': () => new Promise(() => undefined), ...handlers });
    const store = createFerryStore({ initialYaml: YAML });
    host.api.listen((e) => store.getState().applyEvent(e));
    const actions = createActions(host.api, store, () => 1234);
    await actions.startRun(false, true);
    host.emit(app('run', 'r1', ev.runStarted(['a'])));
    host.emit(app('run', 'r1', ev.live('a', NODE, 'streaming', { lagBytes: 0 })));
    return { host, store, actions };
  }

  it('Run live asks run.start for live; pause and resume keep it live', async () => {
    const { host, store, actions } = await liveHost({ 'run.pause': async () => ({}), 'run.resume': async () => ({ runId: 'r2' }) });
    expect(host.calls[0]!.input).toEqual({ yaml: YAML, resume: false, live: true, acceptNewHostKeys: false });
    expect(store.getState().run).toMatchObject({ runId: 'r1', liveMode: true, status: 'running' });
    await actions.pauseRun();
    host.emit(app('run', 'r1', ev.finished('stopped', { a: counts() })));
    expect(store.getState().run).toMatchObject({ status: 'paused', liveMode: true });
    await actions.resumeRun();
    expect(store.getState().run).toMatchObject({ runId: 'r2', status: 'running', liveMode: true });
  });

  it('cut over: waiting, verifying as its verify reports, then safe; the verify state holds what it compared', async () => {
    const answer = deferred<Verdict>();
    const { host, store, actions } = await liveHost({ 'run.cutover': () => answer.promise });
    const cutting = actions.cutover();
    expect(host.calls.find((c) => c.name === 'run.cutover')!.input).toEqual({ runId: 'r1' });
    expect(store.getState().run.cutover).toMatchObject({ status: 'waiting', startedAt: 1234 });
    expect(store.getState().verify.status).toBe('running');
    // A second click while it runs calls nothing.
    await actions.cutover();
    expect(host.calls.filter((c) => c.name === 'run.cutover')).toHaveLength(1);
    host.emit(app('verify', 'c1', ev.verifyProgress('a', 50, 100)));
    expect(store.getState().run.cutover.status).toBe('verifying');
    host.emit(app('verify', 'c1', ev.verifyFinished(100, {})));
    answer.resolve({
      safe: true,
      reason: null,
      nodes: [],
      verify: { compared: 100, equal: 100, differences: { missing: 0, type: 0, value: 0, ttl: 0 }, keptByPolicy: 0, vanished: 0, firstDifferences: [] },
    });
    await cutting;
    expect(store.getState().run.cutover).toMatchObject({ status: 'safe', verdict: { safe: true } });
    expect(store.getState().verify).toMatchObject({ status: 'done', summary: { compared: 100, equal: 100 } });
  });

  it('NOT safe before any verify: the reason kept, the verify state not left running; a timeout is passed on', async () => {
    const { store, actions, host } = await liveHost({
      'run.cutover': async () => ({ safe: false, reason: 'the live run did not catch up within 5 s', nodes: [], verify: null }),
    });
    await actions.cutover(5000);
    expect(host.calls.find((c) => c.name === 'run.cutover')!.input).toEqual({ runId: 'r1', timeoutMs: 5000 });
    await actions.cutover(undefined, 60_000);
    expect(host.calls.filter((c) => c.name === 'run.cutover')[1].input).toEqual({ runId: 'r1', pauseWritesMs: 60_000 });
    expect(store.getState().run.cutover).toMatchObject({ status: 'unsafe', verdict: { reason: expect.stringContaining('did not catch up') } });
    expect(store.getState().verify.status).toBe('idle');
  });

  it('Stop waiting cancels the call; pausing the run ends a cut-over too; a copy run has no cut-over', async () => {
    const cutover: Handler = (_input, signal) => new Promise((_resolve, reject) => signal?.addEventListener('abort', () => reject(new FerryCallError('cancelled', 'cancelled'))));
    const { store, actions } = await liveHost({ 'run.cutover': cutover, 'run.pause': async () => ({}) });
    const first = actions.cutover();
    actions.cancelCutover();
    await first;
    expect(store.getState().run.cutover.status).toBe('cancelled');
    const second = actions.cutover();
    await actions.pauseRun();
    await second;
    expect(store.getState().run.cutover.status).toBe('cancelled');

    const copy = fakeHost({ 'run.start': async () => ({ runId: 'c1' }), 'run.wait': () => new Promise(() => undefined) });
    const copyStore = createFerryStore({ initialYaml: YAML });
    const copyActions = createActions(copy.api, copyStore);
    await copyActions.startRun();
    await copyActions.cutover();
    expect(copy.calls.map((c) => c.name)).not.toContain('run.cutover');
  });

  it('a failed cut-over says why (no verdict)', async () => {
    const { store, actions } = await liveHost({ 'run.cutover': async () => Promise.reject(new FerryCallError('run r1 is not following its sources yet', 'bad-input')) });
    await actions.cutover();
    expect(store.getState().run.cutover).toMatchObject({ status: 'failed', verdict: null, error: 'run r1 is not following its sources yet' });
  });
});
