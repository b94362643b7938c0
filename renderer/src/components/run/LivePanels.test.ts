// The live panels rendered to markup (react-dom/server) from a store in a known state: what a user
// sees for each phase of a node and of a cut-over. The page's store and host are replaced by a test
// store; the components read it through the same useFerry selectors.
import { createElement } from 'react';
import { renderToStaticMarkup } from 'react-dom/server';
import { beforeEach, describe, expect, it, vi } from 'vitest';
import { app, ev, T0 } from '../../store/eventFixtures.js';
import { cutoverDone, cutoverStarted, runStarting, type CutoverVerdict } from '../../store/runSlice.js';
import { createFerryStore, type FerryState, type FerryStore } from '../../store/store.js';
import { textToHex } from '../../util/keys.js';

const page = vi.hoisted(() => ({ store: null as unknown as FerryStore }));

vi.mock('../../appState.js', () => ({
  useFerry: <T>(selector: (s: FerryState) => T): T => selector(page.store.getState()),
  useFerryShallow: <T>(selector: (s: FerryState) => T): T => selector(page.store.getState()),
  actions: { cutover: vi.fn(), cancelCutover: vi.fn() },
}));

const { CutoverPanel, LiveNodesPanel } = await import('./LivePanels.js');

const NODE = '127.0.0.1:6379';
const html = (component: () => unknown) => renderToStaticMarkup(createElement(component as () => null));

function live(...events: ReturnType<typeof ev.live>[]) {
  page.store.setState((s) => ({ run: runStarting(s.run, 2, true) }));
  page.store.getState().applyEvent(app('run', 'r1', ev.runStarted(['app'])));
  for (const e of events) page.store.getState().applyEvent(app('run', 'r1', e));
}

beforeEach(() => {
  page.store = createFerryStore();
});

describe('LiveNodesPanel', () => {
  it('shows nothing for a copy run', () => {
    page.store.getState().applyEvent(app('run', 'r1', ev.runStarted(['app'])));
    expect(html(LiveNodesPanel)).toBe('');
    expect(html(CutoverPanel)).toBe('');
  });

  it('a node behind: phase, resync kind, lag in bytes and time, the commands and the message', () => {
    live(ev.live('app', NODE, 'streaming', { lagBytes: 3 * 1024 * 1024, lagMs: 12_500, applied: 123_456, dropped: 7, errors: 2, resync: 'partial', message: 'link restored' }));
    const out = html(LiveNodesPanel);
    expect(out).toContain('data-phase="streaming"');
    expect(out).toContain('data-caught-up="false"');
    expect(out).toContain('0 of 1 node caught up');
    expect(out).toContain('partial');
    expect(out).toContain('3.0 MB');
    expect(out).toContain('13s');
    expect(out).toContain('123,456');
    expect(out).toContain('link restored');
    expect(out).not.toContain('data-testid="live-caught-up"');
  });

  it('a source followed by keyspace notifications: best effort, its lag in keys, no offsets; caught up only with no key pending', () => {
    live(ev.live('managed', NODE, 'streaming', { mode: 'notifications', lagBytes: 0, lagKeys: 42, lagMs: 900 }));
    let out = html(LiveNodesPanel);
    expect(out).toContain('data-testid="live-best-effort"');
    expect(out).toContain('42 keys');
    expect(out).not.toContain('offset 10,000');
    expect(out).not.toContain('data-testid="live-caught-up"');
    page.store.getState().applyEvent(app('run', 'r1', ev.live('managed', NODE, 'streaming', { mode: 'notifications', lagBytes: 0, lagKeys: 0, lagMs: 0 })));
    out = html(LiveNodesPanel);
    expect(out).toContain('data-testid="live-caught-up"');
  });

  it('caught up: streaming with lag 0 says so', () => {
    live(ev.live('app', NODE, 'full-sync', { lagBytes: 0 }), ev.live('app', '127.0.0.1:6380', 'streaming', { lagBytes: 0 }));
    const out = html(LiveNodesPanel);
    expect(out).toContain('1 of 2 nodes caught up');
    expect(out.match(/data-testid="live-caught-up"/g)).toHaveLength(1);
    expect(out).toContain('data-phase="full-sync"');
  });
});

describe('CutoverPanel', () => {
  const verdict = (safe: boolean): CutoverVerdict => ({
    safe,
    reason: safe ? null : 'verify found 1 difference(s) after the lag was 0; stop the writes',
    nodes: [],
    verify: {
      compared: 500,
      equal: safe ? 500 : 499,
      differences: { missing: 0, type: 0, value: safe ? 0 : 1, ttl: 0 },
      keptByPolicy: 0,
      vanished: 0,
      firstDifferences: safe ? [] : [{ source: 'app', db: 0, targetDb: 0, keyHex: textToHex('user:42'), kind: 'value', detail: 'values differ' }],
    },
  });

  it('the button waits for a node; while waiting, the nodes behind are listed', () => {
    live();
    expect(html(CutoverPanel)).toMatch(/data-testid="run-cutover"[^>]*disabled/);
    page.store.getState().applyEvent(app('run', 'r1', ev.live('app', NODE, 'streaming', { lagBytes: 2048 })));
    expect(html(CutoverPanel)).not.toMatch(/data-testid="run-cutover"[^>]*disabled/);
    page.store.setState((s) => ({ run: cutoverStarted(s.run, T0) }));
    const out = html(CutoverPanel);
    expect(out).toContain('data-state="waiting"');
    expect(out).toContain('Waiting until every source node has applied its stream');
    expect(out).toContain(`app ${NODE}: streaming, 2.0 KB behind`);
    expect(out).toMatch(/data-testid="run-cutover-cancel"(?![^>]*disabled)/);
  });

  it('verifying shows its progress; safe says Safe to switch with the counts', () => {
    live(ev.live('app', NODE, 'streaming'));
    page.store.setState((s) => ({ run: cutoverStarted(s.run, T0) }));
    page.store.getState().applyEvent(app('verify', 'c1', ev.verifyProgress('app', 250, 500)));
    let out = html(CutoverPanel);
    expect(out).toContain('data-state="verifying"');
    expect(out).toContain('data-testid="cutover-verify-row-app"');
    expect(out).toContain('data-progress="50"');
    page.store.setState((s) => ({ run: cutoverDone(s.run, verdict(true)) }));
    out = html(CutoverPanel);
    expect(out).toContain('data-safe="true"');
    expect(out).toContain('Safe to switch');
    expect(out).not.toContain('NOT safe');
    expect(out).toContain('data-compared="500"');
  });

  it('NOT safe: the reason and the differences', () => {
    live(ev.live('app', NODE, 'streaming'));
    page.store.setState((s) => ({ run: cutoverStarted(s.run, T0) }));
    page.store.getState().applyEvent(app('verify', 'c1', ev.verifyDifference('app', 'user:42', 'value')));
    page.store.setState((s) => ({ run: cutoverDone(s.run, verdict(false)) }));
    const out = html(CutoverPanel);
    expect(out).toContain('data-safe="false"');
    expect(out).toContain('NOT safe to switch');
    expect(out).toContain('verify found 1 difference(s) after the lag was 0');
    expect(out).toContain('data-testid="cutover-differences"');
    expect(out).toContain('user:42');
  });
});
