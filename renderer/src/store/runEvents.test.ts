import { describe, expect, it } from 'vitest';
import { LATENCY_WINDOW_SECONDS } from './latency.js';
import { app, counts, ev, T0 } from './eventFixtures.js';
import { createFerryStore } from './store.js';
import { stagingPercent } from './common.js';

function started(sources = ['idc-01', 'idc-02'], runId = 'run-1') {
  const store = createFerryStore();
  store.getState().applyEvent(app('run', runId, ev.runStarted(sources)));
  return store;
}

describe('run events', () => {
  it('big-key progress: one entry per key, moving to 100 %, the newest 20 kept', () => {
    const store = started();
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.bigKey('idc-01', 'leaderboard', 250_000, 1_000_000)));
    s.applyEvent(app('run', 'run-1', ev.bigKey('idc-01', 'leaderboard', 1_000_000, 1_000_000)));
    const entries = Object.values(store.getState().run.bigKeyProgress);
    expect(entries).toHaveLength(1);
    expect(entries[0]!.progress).toBe(100);
    for (let i = 0; i < 30; i++) s.applyEvent(app('run', 'run-1', ev.bigKey('idc-02', `big:${i}`, 1, 2)));
    const kept = Object.values(store.getState().run.bigKeyProgress);
    expect(kept).toHaveLength(20);
    expect(kept.at(-1)!.progress).toBe(50);
  });

  it('a run-started lists its sources as queued rows', () => {
    const store = started();
    const run = store.getState().run;
    expect(run.runId).toBe('run-1');
    expect(run.status).toBe('running');
    expect(run.order).toEqual(['idc-01', 'idc-02']);
    expect(run.sources['idc-01']!.stage).toBe('queued');
  });

  it('progress reaches 100 % and updates only its own row', () => {
    const store = started();
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.stage('idc-01', 'copying')));
    const otherBefore = store.getState().run.sources['idc-02'];
    for (let i = 1; i <= 100; i++) s.applyEvent(app('run', 'run-1', ev.progress('idc-01', i * 50, 5000, T0 + i * 10)));
    let row = store.getState().run.sources['idc-01']!;
    expect(row.progress).toBe(100);
    expect(row.counts.scanned).toBe(5000);
    expect(row.keysPerSec).toBe(1000);
    expect(row.etaMs).toBe(0);
    // The other row is the very same object: its component does not re-render.
    expect(store.getState().run.sources['idc-02']).toBe(otherBefore);

    s.applyEvent(app('run', 'run-1', ev.progress('idc-02', 10, 3000)));
    expect(store.getState().run.sources['idc-02']!.progress).toBe(0);
    s.applyEvent(app('run', 'run-1', ev.progress('idc-02', 1500, 3000)));
    expect(store.getState().run.sources['idc-02']!.progress).toBe(50);

    s.applyEvent(app('run', 'run-1', ev.stage('idc-01', 'done')));
    row = store.getState().run.sources['idc-01']!;
    expect(row.stage).toBe('done');
    expect(row.progress).toBe(100);
  });

  it('a source whose estimate was too low still ends at 100 % when done', () => {
    const store = started(['a']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.progress('a', 90, 200)));
    expect(store.getState().run.sources.a!.progress).toBe(45);
    s.applyEvent(app('run', 'run-1', ev.stage('a', 'done')));
    s.applyEvent(app('run', 'run-1', ev.progress('a', 90, 200)));
    expect(store.getState().run.sources.a!.progress).toBe(100);
  });

  it('run-finished sets the outcome, the counts per source and ends every row', () => {
    const store = started();
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.progress('idc-01', 100, 100)));
    s.applyEvent(app('run', 'run-1', ev.stage('idc-01', 'done')));
    s.applyEvent(app('run', 'run-1', ev.finished('failed', { 'idc-01': counts({ scanned: 100, written: 100 }), 'idc-02': counts({ scanned: 7, errors: 2 }) })));
    const run = store.getState().run;
    expect(run.status).toBe('failed');
    expect(run.outcome?.outcome).toBe('failed');
    expect(run.outcome?.counts.scanned).toBe(107);
    expect(run.outcome?.counts.errors).toBe(2);
    expect(run.sources['idc-01']!.stage).toBe('done');
    expect(run.sources['idc-02']!.stage).toBe('failed');
    expect(run.sources['idc-02']!.counts.errors).toBe(2);
    expect(run.budgetMs).toBe(5);
  });

  it('a stopped run that the user paused is paused, not stopped', () => {
    const store = started(['a']);
    store.setState((st) => ({ run: { ...st.run, pending: 'pause' } }));
    store.getState().applyEvent(app('run', 'run-1', ev.finished('stopped', { a: counts({ scanned: 3 }) })));
    expect(store.getState().run.status).toBe('paused');
    expect(store.getState().run.pending).toBeNull();
  });

  it('keeps the newest 200 key errors and counts them all', () => {
    const store = started(['a']);
    for (let i = 0; i < 250; i++) store.getState().applyEvent(app('run', 'run-1', ev.keyError('a', i)));
    const run = store.getState().run;
    expect(run.keyErrors).toHaveLength(200);
    expect(run.keyErrorCount).toBe(250);
    expect(run.keyErrors[0]!.message).toBe('refused 50');
    expect(run.keyErrors[199]!.message).toBe('refused 249');
  });

  it('sorts big-key warnings from other warnings', () => {
    const store = started(['a']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.warning('"big:list" (db 0, list, 12.0 MB, 200,000 elements) is a big key: it is copied in windows into a temporary key and appears at once when complete', 'a')));
    s.applyEvent(app('run', 'run-1', ev.warning('connection to the target dropped; Ferry reconnects and continues from the checkpoint (for up to 60 s)')));
    expect(store.getState().run.bigKeyWarnings).toHaveLength(1);
    expect(store.getState().run.warnings).toHaveLength(1);
  });

  it('tunnels keep their latest state', () => {
    const store = started(['a']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.tunnel('idc', 'connecting')));
    s.applyEvent(app('run', 'run-1', ev.tunnel('idc', 'up')));
    s.applyEvent(app('run', 'run-1', ev.tunnel('idc', 'down', 2)));
    expect(store.getState().run.tunnels.idc).toMatchObject({ state: 'down', attempt: 2 });
  });

  it('staging progress per node, summed per source', () => {
    const store = started(['c']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.stage('c', 'staging')));
    s.applyEvent(app('run', 'run-1', ev.staging('c', '10.0.0.1:7000', 'syncing', 0, null)));
    expect(stagingPercent(store.getState().run.staging.c)).toBeNull();
    s.applyEvent(app('run', 'run-1', ev.staging('c', '10.0.0.1:7000', 'syncing', 250, 1000)));
    s.applyEvent(app('run', 'run-1', ev.staging('c', '10.0.0.2:7000', 'syncing', 750, 1000)));
    const nodes = store.getState().run.staging.c!;
    expect(nodes['10.0.0.1:7000']!.percent).toBe(25);
    expect(nodes['10.0.0.2:7000']!.percent).toBe(75);
    expect(stagingPercent(nodes)).toBe(50);
    s.applyEvent(app('run', 'run-1', ev.staging('c', '10.0.0.1:7000', 'synced', 1000, 1000)));
    s.applyEvent(app('run', 'run-1', ev.staging('c', '10.0.0.2:7000', 'synced', 1000, 1000)));
    expect(stagingPercent(store.getState().run.staging.c)).toBe(100);
  });

  it("a staged run's own verify shows the source as verifying, then done", () => {
    const store = started(['c']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.stage('c', 'done')));
    s.applyEvent(app('run', 'run-1', ev.verifyProgress('c', 40, 100)));
    expect(store.getState().run.sources.c!.stage).toBe('verifying');
    s.applyEvent(app('run', 'run-1', ev.finished('done', { c: counts({ scanned: 100 }) })));
    expect(store.getState().run.sources.c!.stage).toBe('done');
    expect(store.getState().verify.status).toBe('idle');
  });

  it('drops the late events of a run that is over, and follows a new one', () => {
    const store = started(['a'], 'run-1');
    store.setState((st) => ({ run: { ...st.run, pending: 'pause' } }));
    store.getState().applyEvent(app('run', 'run-1', ev.finished('stopped', { a: counts() })));
    // resume: a new run id
    store.getState().applyEvent(app('run', 'run-2', ev.runStarted(['a'], T0 + 5000, true)));
    expect(store.getState().run.runId).toBe('run-2');
    expect(store.getState().run.status).toBe('running');
    const before = store.getState();
    store.getState().applyEvent(app('run', 'run-1', ev.progress('a', 1, 10)));
    expect(store.getState()).toBe(before);
  });

  it('follows a run this page did not start (after a reload)', () => {
    const store = createFerryStore();
    store.getState().applyEvent(app('run', 'r-host', ev.progress('a', 30, 60)));
    let run = store.getState().run;
    expect(run).toMatchObject({ runId: 'r-host', status: 'running', order: ['a'] });
    expect(run.sources.a!.progress).toBe(50);
    store.getState().applyEvent(app('run', 'r-host', ev.finished('done', { a: counts({ scanned: 60 }) })));
    run = store.getState().run;
    expect(run.status).toBe('done');
    expect(run.sources.a!.stage).toBe('done');
  });

  it('events of other operations leave the run alone', () => {
    const store = started(['a']);
    const before = store.getState().run;
    store.getState().applyEvent(app('plan', 'call-9', ev.staging('a', 'h:1', 'syncing', 5, 10)));
    store.getState().applyEvent(app('verify', 'call-10', ev.verifyProgress('a', 5, 10)));
    expect(store.getState().run).toBe(before);
  });
});

describe('latency', () => {
  it('keeps the last 120 seconds per endpoint, merging the nodes of a second', () => {
    const store = started(['a']);
    const s = store.getState();
    for (let sec = 0; sec < 300; sec++) {
      s.applyEvent(app('run', 'run-1', ev.latency('target', '10.0.0.1:7000', T0 + sec * 1000 + 3, { p99: 1, max: 2, avg: 0.5, calls: 100 })));
      s.applyEvent(app('run', 'run-1', ev.latency('target', '10.0.0.2:7000', T0 + sec * 1000 + 7, { p99: 4, max: 9, avg: 1.5, calls: 100, pace: 0.5 })));
      s.applyEvent(app('run', 'run-1', ev.latency('a', '127.0.0.1:6379', T0 + sec * 1000 + 5, { p50: 0.1 + (sec % 3) / 10 })));
    }
    const { latency, latencyOrder } = store.getState().run;
    expect(latencyOrder).toEqual(['target', 'a']);
    const target = latency.target!;
    expect(target.points).toHaveLength(LATENCY_WINDOW_SECONDS);
    expect(target.nodes).toEqual(['10.0.0.1:7000', '10.0.0.2:7000']);
    const last = target.points[target.points.length - 1]!;
    expect(last.second).toBe(Math.floor((T0 + 299_000) / 1000));
    expect(target.points[0]!.second).toBe(last.second - LATENCY_WINDOW_SECONDS + 1);
    expect(last.calls).toBe(200);
    expect(last.avgMs).toBeCloseTo(1, 6);
    expect(last.p99Ms).toBe(4);
    expect(last.maxMs).toBe(9);
    expect(last.paceFactor).toBe(0.5);
    expect(latency.a!.points).toHaveLength(LATENCY_WINDOW_SECONDS);
    expect(latency.a!.floorMs).toBeCloseTo(0.1, 6);
  });

  it('ignores a second older than the window and inserts a late one in order', () => {
    const store = started(['a']);
    const s = store.getState();
    s.applyEvent(app('run', 'run-1', ev.latency('target', 'n', T0 + 200_000)));
    s.applyEvent(app('run', 'run-1', ev.latency('target', 'n', T0)));
    expect(store.getState().run.latency.target!.points).toHaveLength(1);
    s.applyEvent(app('run', 'run-1', ev.latency('target', 'n', T0 + 198_000)));
    const secs = store.getState().run.latency.target!.points.map((p) => p.second);
    expect(secs).toEqual([Math.floor((T0 + 198_000) / 1000), Math.floor((T0 + 200_000) / 1000)]);
  });
});
