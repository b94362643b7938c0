import { createStore, type StoreApi } from 'zustand/vanilla';
import type { AppEvent } from '../../../shared/api.js';
import { initialJob, watchedLatency, type JobState } from './jobSlice.js';
import { initialPlan, planSourceStage, planStaging, planTunnel, planWarning, type PlanState } from './planSlice.js';
import {
  adoptRun,
  cutoverVerifying,
  initialRun,
  runFinished,
  runKeyError,
  runLatency,
  runBigKeyProgress,
  runProgress,
  runSourceStage,
  runStaging,
  runLive,
  runStarted,
  runTunnel,
  runVerifyProgress,
  runWarning,
  type RunState,
} from './runSlice.js';
import { activityFrom, initialUi, SCREENS, type Screen, type Theme, type ThemeStorage, type UiState } from './uiSlice.js';
import { initialVerify, verifyDifference, verifyFinished, verifyProgress, verifyTunnel, verifyWarning, type VerifyState } from './verifySlice.js';

export interface FerryData {
  job: JobState;
  plan: PlanState;
  run: RunState;
  verify: VerifyState;
  ui: UiState;
}

export interface FerryState extends FerryData {
  /** The one door events come in by (wired once to api.listen). */
  applyEvent(event: AppEvent): void;
  setScreen(screen: Screen): void;
  toggleTheme(): void;
  /** Asks the user about an unknown SSH host key; resolves with the answer. */
  askHostKey(message: string): Promise<boolean>;
  answerHostKey(accept: boolean): void;
}

export type FerryStore = StoreApi<FerryState>;

export interface StoreDeps {
  themeStorage?: ThemeStorage;
  /** The theme when nothing is stored. */
  defaultTheme?: Theme;
  /** A job to start with (YAML). */
  initialYaml?: string;
}

function assertNever(x: never): never {
  throw new Error(`unhandled event ${JSON.stringify(x)}`);
}

/**
 * Routes one event to the slices it concerns. Pure: returns the same object when nothing changed,
 * and otherwise replaces only the parts the event touches (a progress event makes a new row for
 * its source and leaves every other row as it was, so each row re-renders on its own events only).
 */
export function reduceEvent<S extends FerryData>(s: S, app: AppEvent): S {
  const { kind, op, event: e } = app;
  const inRun = (fn: (run: RunState) => RunState): S => {
    if (kind !== 'run') return s;
    const run = adoptRun(s.run, op);
    return run === null ? s : { ...s, run: fn(run) };
  };
  switch (e.type) {
    case 'run-started':
      return inRun((run) => runStarted(run, e));
    case 'source-stage':
      if (kind === 'plan') return { ...s, plan: planSourceStage(s.plan, e) };
      return inRun((run) => runSourceStage(run, e));
    case 'progress':
      return inRun((run) => runProgress(run, e));
    case 'key-error':
      return inRun((run) => runKeyError(run, e));
    case 'run-finished':
      return inRun((run) => runFinished(run, e));
    case 'latency':
      if (kind === 'endpoint') return { ...s, job: watchedLatency(s.job, e) };
      return inRun((run) => runLatency(run, e));
    case 'big-key-progress':
      return inRun((run) => runBigKeyProgress(run, e));
    case 'warning':
      if (kind === 'plan') return { ...s, plan: planWarning(s.plan, e) };
      if (kind === 'verify') return { ...s, verify: verifyWarning(s.verify, e) };
      if (kind === 'run') return inRun((run) => runWarning(run, e));
      return { ...s, ui: activityFrom(s.ui, kind, e) };
    case 'tunnel':
      if (kind === 'plan') return { ...s, plan: planTunnel(s.plan, e) };
      if (kind === 'verify') return { ...s, verify: verifyTunnel(s.verify, e) };
      if (kind === 'run') return inRun((run) => runTunnel(run, e));
      return { ...s, ui: activityFrom(s.ui, kind, e) };
    case 'staging':
      if (kind === 'plan') return { ...s, plan: planStaging(s.plan, e) };
      if (kind === 'run') return inRun((run) => runStaging(run, e));
      return { ...s, ui: activityFrom(s.ui, kind, e) };
    case 'live':
      return inRun((run) => runLive(run, e));
    case 'verify-progress':
      if (kind === 'run') return inRun((run) => runVerifyProgress(run, e));
      // A cut-over's verify comes as kind `verify` too: a cut-over that waited for lag 0 is verifying now.
      return kind === 'verify' ? { ...s, verify: verifyProgress(s.verify, e), run: cutoverVerifying(s.run) } : s;
    case 'verify-difference':
      // A staged run's own verify reports its differences in its outcome (run-finished.verified).
      return kind === 'verify' ? { ...s, verify: verifyDifference(s.verify, e) } : s;
    case 'verify-finished':
      return kind === 'verify' ? { ...s, verify: verifyFinished(s.verify, e) } : s;
    default:
      return assertNever(e);
  }
}

export function createFerryStore(deps: StoreDeps = {}): FerryStore {
  const theme = deps.themeStorage?.load() ?? deps.defaultTheme ?? 'dark';
  return createStore<FerryState>()((set, get) => ({
    job: initialJob(deps.initialYaml),
    plan: initialPlan(),
    run: initialRun(),
    verify: initialVerify(),
    ui: initialUi(theme),
    applyEvent(event) {
      const before = get();
      const after = reduceEvent(before, event);
      if (after !== before) set(after, true);
    },
    setScreen(screen) {
      if (!SCREENS.includes(screen)) return;
      set((s) => ({ ui: { ...s.ui, screen } }));
    },
    toggleTheme() {
      const next: Theme = get().ui.theme === 'dark' ? 'light' : 'dark';
      deps.themeStorage?.save(next);
      set((s) => ({ ui: { ...s.ui, theme: next } }));
    },
    askHostKey(message) {
      // A question still open is answered "no" by the new one.
      get().ui.hostKey?.resolve(false);
      return new Promise<boolean>((resolve) => {
        set((s) => ({ ui: { ...s.ui, hostKey: { message, resolve } } }));
      });
    },
    answerHostKey(accept) {
      const q = get().ui.hostKey;
      if (!q) return;
      set((s) => ({ ui: { ...s.ui, hostKey: null } }));
      q.resolve(accept);
    },
  }));
}
