import { describe, expect, it } from 'vitest';
import { app, ev } from './eventFixtures.js';
import { createFerryStore } from './store.js';
import { planStarted } from './planSlice.js';
import { verifyStarted, totalDifferences } from './verifySlice.js';
import { displayKey } from '../util/keys.js';
import type { Theme, ThemeStorage } from './uiSlice.js';

describe('plan slice', () => {
  it('staging % while the plan syncs a copy', () => {
    const store = createFerryStore();
    store.setState((s) => ({ plan: planStarted(s.plan, 1, 'name: x') }));
    const s = store.getState();
    s.applyEvent(app('plan', 'c1', ev.stage('idc-01', 'staging', undefined, 'syncing a local replica of 10.0.0.11:6379')));
    s.applyEvent(app('plan', 'c1', ev.staging('idc-01', '10.0.0.11:6379', 'syncing', 3 * 1024 * 1024, 12 * 1024 * 1024)));
    expect(store.getState().plan.staging['idc-01 10.0.0.11:6379']!.percent).toBe(25);
    expect(store.getState().plan.stages['idc-01']).toContain('staging');
    s.applyEvent(app('plan', 'c1', ev.staging('idc-01', '10.0.0.11:6379', 'synced', 12 * 1024 * 1024, 12 * 1024 * 1024)));
    expect(store.getState().plan.staging['idc-01 10.0.0.11:6379']!.percent).toBe(100);
    s.applyEvent(app('plan', 'c1', ev.tunnel('idc', 'up')));
    expect(store.getState().plan.tunnels.idc!.state).toBe('up');
    expect(store.getState().plan.status).toBe('running');
  });
});

describe('verify slice', () => {
  it('progress per source, differences with their keys, and the summary', () => {
    const store = createFerryStore();
    store.setState({ verify: verifyStarted() });
    const s = store.getState();
    s.applyEvent(app('verify', 'v1', ev.verifyProgress('idc-01', 500, 1000, 1)));
    s.applyEvent(app('verify', 'v1', ev.verifyProgress('idc-02', 10, 10)));
    s.applyEvent(app('verify', 'v1', ev.verifyDifference('idc-01', 'user:42', 'value')));
    s.applyEvent(app('verify', 'v1', ev.verifyDifference('idc-01', '0xff00fe', 'missing')));
    let v = store.getState().verify;
    expect(v.order).toEqual(['idc-01', 'idc-02']);
    expect(v.progress['idc-01']!.percent).toBe(50);
    expect(v.progress['idc-02']!.percent).toBe(100);
    expect(v.differences.map((d) => d.kind)).toEqual(['value', 'missing']);
    expect(displayKey(v.differences[0]!.keyHex)).toEqual({ text: 'user:42', printable: true });
    expect(displayKey(v.differences[1]!.keyHex)).toEqual({ text: '0xff00fe', printable: false });
    s.applyEvent(app('verify', 'v1', ev.verifyFinished(1010, { value: 1, missing: 1 })));
    v = store.getState().verify;
    expect(v.status).toBe('done');
    expect(v.summary).toMatchObject({ compared: 1010, equal: 1008 });
    expect(totalDifferences(v.summary!)).toBe(2);
    expect(v.progress['idc-01']!.percent).toBe(100);
  });

  it('keys with control characters are shown as hex', () => {
    expect(displayKey('6b0a76').printable).toBe(false);
    expect(displayKey('e29c93').text).toBe('✓');
  });
});

describe('ui slice', () => {
  it('the theme toggles and is kept by the injected storage', () => {
    let kept: Theme | null = 'light';
    const storage: ThemeStorage = { load: () => kept, save: (t) => (kept = t) };
    const store = createFerryStore({ themeStorage: storage });
    expect(store.getState().ui.theme).toBe('light');
    store.getState().toggleTheme();
    expect(store.getState().ui.theme).toBe('dark');
    expect(kept).toBe('dark');
    store.getState().toggleTheme();
    expect(kept).toBe('light');
    // Without storage: the default.
    expect(createFerryStore().getState().ui.theme).toBe('dark');
    expect(createFerryStore({ defaultTheme: 'light' }).getState().ui.theme).toBe('light');
  });

  it('screens', () => {
    const store = createFerryStore();
    store.getState().setScreen('run');
    expect(store.getState().ui.screen).toBe('run');
  });

  it('a host-key question resolves with the answer', async () => {
    const store = createFerryStore();
    const answer = store.getState().askHostKey('unknown host key SHA256:abc for bastion');
    expect(store.getState().ui.hostKey?.message).toContain('SHA256:abc');
    store.getState().answerHostKey(true);
    await expect(answer).resolves.toBe(true);
    expect(store.getState().ui.hostKey).toBeNull();
  });

  it('notices of endpoint tests and the sandbox go to the activity list', () => {
    const store = createFerryStore();
    store.getState().applyEvent(app('endpoint', 'e1', ev.tunnel('idc', 'up')));
    store.getState().applyEvent(app('sandbox', 's1', ev.warning('sandbox is loading data')));
    expect(store.getState().ui.activity.map((a) => a.message)).toEqual(['endpoint: tunnel idc: up', 'sandbox: sandbox is loading data']);
  });
});
