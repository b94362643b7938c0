import { describe, expect, it } from 'vitest';
import { app, ev, T0 } from './eventFixtures.js';
import {
  cutoverDone,
  cutoverFailed,
  cutoverStarted,
  isCaughtUp,
  liveNodes,
  nodesBehind,
  runResuming,
  runStarting,
  type CutoverVerdict,
  type LiveNodeState,
} from './runSlice.js';
import { createFerryStore } from './store.js';

const NODE_A = '10.0.0.1:6379';
const NODE_B = '10.0.0.2:6379';

function liveRun(runId = 'run-live') {
  const store = createFerryStore();
  store.setState((s) => ({ run: runStarting(s.run, 2, true) }));
  store.getState().applyEvent(app('run', runId, ev.runStarted(['app', 'cache'])));
  return store;
}

const verdict = (safe: boolean, over: Partial<CutoverVerdict> = {}): CutoverVerdict => ({
  safe,
  reason: safe ? null : 'verify found 1 difference(s) after the lag was 0',
  nodes: [],
  verify: { compared: 10, equal: safe ? 10 : 9, differences: { missing: 0, type: 0, value: safe ? 0 : 1, ttl: 0 }, keptByPolicy: 0, vanished: 0, firstDifferences: [] },
  ...over,
});

describe('live sync in the store', () => {
  it('a live event per node: the latest one kept, only its own entry replaced; the run shows as live', () => {
    const store = createFerryStore();
    expect(store.getState().run.liveMode).toBe(false);
    const s = store.getState();
    s.applyEvent(app('run', 'r1', ev.runStarted(['app'])));
    s.applyEvent(app('run', 'r1', ev.live('app', NODE_A, 'connecting', { resync: null })));
    s.applyEvent(app('run', 'r1', ev.live('app', NODE_B, 'full-sync')));
    expect(store.getState().run.liveMode).toBe(true);
    const before = store.getState().run.live.app![NODE_B];
    s.applyEvent(app('run', 'r1', ev.live('app', NODE_A, 'streaming', { lagBytes: 120, lagMs: 40, applied: 7 }, T0 + 1000)));
    const run = store.getState().run;
    expect(run.live.app![NODE_A]).toMatchObject({ phase: 'streaming', lagBytes: 120, lagMs: 40, applied: 7 });
    expect(run.live.app![NODE_B]).toBe(before);
    // Events of another kind never reach the run.
    s.applyEvent(app('plan', 'p1', ev.live('app', NODE_A, 'failed')));
    expect(store.getState().run.live.app![NODE_A]!.phase).toBe('streaming');
  });

  it('caught up is streaming with lag 0; the nodes come in source order, the ones behind listed', () => {
    const store = liveRun();
    const s = store.getState();
    s.applyEvent(app('run', 'run-live', ev.live('cache', NODE_B, 'streaming', { lagBytes: 0 })));
    s.applyEvent(app('run', 'run-live', ev.live('app', NODE_B, 'streaming', { lagBytes: 0 })));
    s.applyEvent(app('run', 'run-live', ev.live('app', NODE_A, 'full-sync', { lagBytes: 0 })));
    const run = store.getState().run;
    expect(liveNodes(run).map((n) => `${n.source} ${n.node}`)).toEqual([`app ${NODE_A}`, `app ${NODE_B}`, `cache ${NODE_B}`]);
    // A full sync with lag 0 is not caught up: the dataset is still being copied.
    expect(nodesBehind(run).map((n) => n.node)).toEqual([NODE_A]);
    const n = run.live.app![NODE_B]!;
    expect(isCaughtUp(n)).toBe(true);
    expect(isCaughtUp({ ...n, lagBytes: 1 } as LiveNodeState)).toBe(false);
    expect(isCaughtUp({ ...n, phase: 'reconnecting' } as LiveNodeState)).toBe(false);
  });

  it('Run live sets live mode at once; a run followed from another page is live once its live events say so', () => {
    const store = liveRun();
    expect(store.getState().run).toMatchObject({ liveMode: true, runId: 'run-live', status: 'running' });
    // Another page started another (copy) run: followed, not live until told.
    store.setState((s) => ({ run: { ...s.run, status: 'done' } }));
    store.getState().applyEvent(app('run', 'other', ev.runStarted(['app'])));
    expect(store.getState().run).toMatchObject({ runId: 'other', liveMode: false, live: {} });
    store.getState().applyEvent(app('run', 'other', ev.live('app', NODE_A, 'connecting')));
    expect(store.getState().run.liveMode).toBe(true);
  });

  it('a paused live run keeps its nodes and stays live when resumed', () => {
    const store = liveRun();
    const s = store.getState();
    s.applyEvent(app('run', 'run-live', ev.live('app', NODE_A, 'streaming')));
    store.setState((st) => ({ run: { ...st.run, pending: 'pause' } }));
    s.applyEvent(app('run', 'run-live', ev.live('app', NODE_A, 'stopped')));
    s.applyEvent(app('run', 'run-live', ev.finished('stopped', {})));
    expect(store.getState().run.status).toBe('paused');
    store.setState((st) => ({ run: runResuming(st.run) }));
    s.applyEvent(app('run', 'run-live-2', ev.runStarted(['app'], T0 + 5000, true)));
    s.applyEvent(app('run', 'run-live-2', ev.live('app', NODE_A, 'streaming', { resync: 'partial' })));
    const run = store.getState().run;
    expect(run).toMatchObject({ runId: 'run-live-2', liveMode: true, status: 'running' });
    expect(run.live.app![NODE_A]!.resync).toBe('partial');
  });
});

describe('the cut-over in the store', () => {
  it('waiting, then verifying on its verify\'s first progress (kind verify), then the verdict', () => {
    const store = liveRun();
    store.setState((s) => ({ run: cutoverStarted(s.run, T0) }));
    expect(store.getState().run.cutover).toEqual({ status: 'waiting', startedAt: T0, verdict: null, error: null });
    // A staged run's own verify (kind run) is not the cut-over's.
    store.getState().applyEvent(app('run', 'run-live', ev.verifyProgress('app', 1, 10)));
    expect(store.getState().run.cutover.status).toBe('waiting');
    store.getState().applyEvent(app('verify', 'call-7', ev.verifyProgress('app', 5, 10)));
    expect(store.getState().run.cutover.status).toBe('verifying');
    expect(store.getState().verify.progress.app).toMatchObject({ compared: 5, total: 10, percent: 50 });
    const runBefore = store.getState().run;
    store.getState().applyEvent(app('verify', 'call-7', ev.verifyProgress('app', 10, 10)));
    // Already verifying: the run is untouched.
    expect(store.getState().run).toBe(runBefore);
    store.setState((s) => ({ run: cutoverDone(s.run, verdict(true)) }));
    expect(store.getState().run.cutover).toMatchObject({ status: 'safe', verdict: { safe: true, reason: null } });
  });

  it('NOT safe keeps the reason; a failure or a cancel has no verdict; a late answer after a resume is dropped', () => {
    const store = liveRun();
    store.setState((s) => ({ run: cutoverDone(cutoverStarted(s.run, T0), verdict(false)) }));
    expect(store.getState().run.cutover).toMatchObject({ status: 'unsafe', verdict: { reason: expect.stringContaining('1 difference') } });
    store.setState((s) => ({ run: cutoverFailed(cutoverStarted(s.run, T0), 'run r is not running any more', false) }));
    expect(store.getState().run.cutover).toMatchObject({ status: 'failed', verdict: null, error: 'run r is not running any more' });
    store.setState((s) => ({ run: cutoverFailed(cutoverStarted(s.run, T0), 'cancelled', true) }));
    expect(store.getState().run.cutover).toMatchObject({ status: 'cancelled', error: null });
    // Answers for a cut-over that is no longer waiting change nothing.
    const idle = store.getState().run;
    expect(cutoverDone(idle, verdict(true))).toBe(idle);
    const waiting = cutoverStarted(idle, T0);
    const resumed = runResuming(waiting);
    expect(resumed.cutover.status).toBe('idle');
    expect(cutoverDone(resumed, verdict(true))).toBe(resumed);
  });
});
