import type { CallOutput, FerryApi } from '../../../shared/api.js';
import { toFerryCallError } from '../api/errors.js';
import { loaded, saved, watchStarted, watchStopped, withEndpointCheck, withField, withHostProblems, withItem, withYaml, initialJob } from './jobSlice.js';
import { latencyBudgetOf, literalUrlPassword, secretRef, valueAt, withUrlPassword, type FieldPath } from './jobModel.js';
import { planDone, planFailed, planStarted } from './planSlice.js';
import {
  cutoverDone,
  cutoverFailed,
  cutoverStarted,
  runAccepted,
  runCallFailed,
  runCancelledWhilePaused,
  runPending,
  runResuming,
  runStarting,
  runSummary,
  type RunState,
} from './runSlice.js';
import type { FerryStore } from './store.js';
import { initialVerify, verifyFailed, verifyResult, verifyStarted } from './verifySlice.js';

/** Where a secret's reference goes: the password part of a URL, or a whole field (tunnel password, passphrase). */
export interface SecretTarget {
  path: FieldPath;
  kind: 'url' | 'field';
}

export type Actions = ReturnType<typeof createActions>;

/**
 * What the screens do: each action calls the host through the FerryApi and records the outcome in
 * the store. Kept free of the DOM, so tests drive it with a fake api.
 */
export function createActions(api: FerryApi, store: FerryStore, now: () => number = () => Date.now()) {
  const get = store.getState;
  const set = store.setState;
  let planAbort: AbortController | null = null;
  let verifyAbort: AbortController | null = null;
  let cutoverAbort: AbortController | null = null;

  const setJob = (fn: (job: ReturnType<typeof get>['job']) => ReturnType<typeof get>['job']) => set((s) => ({ job: fn(s.job) }));
  const setRun = (fn: (run: RunState) => RunState) => set((s) => ({ run: fn(s.run) }));

  /**
   * Calls that may open SSH tunnels: an unknown host key is put to the user, and on "accept" the
   * call is made again with acceptNewHostKeys (the host records the key).
   */
  /** Latency watches in flight, by endpoint name: aborting one ends its endpoint.watch call. */
  const watches = new Map<string, AbortController>();

  async function withHostKeys<T>(call: (acceptNewHostKeys: boolean) => Promise<T>): Promise<T> {
    try {
      return await call(false);
    } catch (err) {
      const e = toFerryCallError(err);
      if (e.code !== 'unknown-host-key') throw e;
      const accept = await get().askHostKey(e.message);
      if (!accept) throw toFerryCallError({ message: 'Cancelled: the SSH host key was not accepted.', code: 'cancelled' });
      return call(true).catch((again: unknown) => Promise.reject(toFerryCallError(again)));
    }
  }

  function waitForRun(runId: string): void {
    api.call('run.wait', { runId }).then(
      (summary) => setRun((run) => runSummary(run, summary)),
      (err: unknown) => {
        const e = toFerryCallError(err);
        if (e.code === 'cancelled') return;
        setRun((run) => (run.runId === runId && run.outcome === null ? runCallFailed(run, null, e.message) : run));
      },
    );
  }

  return {
    async init(): Promise<void> {
      try {
        const info = await api.call('app.info', {});
        set((s) => ({ ui: { ...s.ui, appInfo: info, hostError: null } }));
      } catch (err) {
        const message = toFerryCallError(err).message;
        set((s) => ({ ui: { ...s.ui, hostError: message } }));
      }
    },

    // --- job -------------------------------------------------------------------------------
    setYaml(text: string): void {
      setJob((job) => withYaml(job, text));
    },
    setField(path: FieldPath, value: unknown): void {
      setJob((job) => withField(job, path, value));
    },
    addItem(path: FieldPath, item: unknown): void {
      setJob((job) => withItem(job, path, item));
    },
    newJob(): void {
      set({ job: initialJob() });
    },

    async validate(): Promise<void> {
      const yaml = get().job.yaml;
      try {
        const r = await api.call('job.validate', { yaml });
        setJob((job) => withHostProblems(job, yaml, r.problems));
      } catch (err) {
        const message = toFerryCallError(err).message;
        setJob((job) => ({ ...job, error: message }));
      }
    },

    async open(path: string): Promise<boolean> {
      try {
        const r = await api.call('job.open', { path });
        set({ job: loaded(r.yaml, r.path, `Opened ${r.path}`) });
        return true;
      } catch (err) {
        const message = toFerryCallError(err).message;
        setJob((job) => ({ ...job, error: message, message: null }));
        return false;
      }
    },

    async save(path: string): Promise<boolean> {
      const yaml = get().job.yaml;
      try {
        const r = await api.call('job.save', { path, yaml });
        setJob((job) => saved(job, yaml, r.path));
        return true;
      } catch (err) {
        const message = toFerryCallError(err).message;
        setJob((job) => ({ ...job, error: message, message: null }));
        return false;
      }
    },

    async testEndpoint(endpoint: string): Promise<void> {
      const yaml = get().job.yaml;
      setJob((job) => withEndpointCheck(job, endpoint, { status: 'testing', facts: job.endpoints[endpoint]?.facts ?? null, error: null }));
      try {
        const facts = await withHostKeys((acceptNewHostKeys) => api.call('endpoint.test', { yaml, endpoint, acceptNewHostKeys }));
        setJob((job) => withEndpointCheck(job, endpoint, { status: 'done', facts, error: facts.reachable ? null : (facts.error ?? 'not reachable') }));
      } catch (err) {
        const message = toFerryCallError(err).message;
        setJob((job) => withEndpointCheck(job, endpoint, { status: 'failed', facts: null, error: message }));
      }
    },

    /** Watches one endpoint's latency (endpoint.watch) until `unwatchEndpoint`; points arrive as events. */
    async watchEndpoint(endpoint: string): Promise<void> {
      watches.get(endpoint)?.abort();
      const abort = new AbortController();
      watches.set(endpoint, abort);
      const yaml = get().job.yaml;
      setJob((job) => watchStarted(job, endpoint));
      try {
        await withHostKeys((acceptNewHostKeys) => api.call('endpoint.watch', { yaml, endpoint, acceptNewHostKeys }, { signal: abort.signal }));
      } catch (err) {
        const e = toFerryCallError(err);
        if (e.code !== 'cancelled') setJob((job) => ({ ...job, error: e.message, message: null }));
      } finally {
        if (watches.get(endpoint) === abort) {
          watches.delete(endpoint);
          setJob((job) => watchStopped(job, endpoint));
        }
      }
    },

    unwatchEndpoint(endpoint: string): void {
      watches.get(endpoint)?.abort();
    },

    /**
     * Keeps `value` as the secret `name` (secret.set) and writes `${secret:name}` where it belongs.
     * With an empty value, a password written literally in the URL is the one kept.
     */
    async storeSecret(name: string, value: string, target: SecretTarget): Promise<boolean> {
      const current = valueAt(get().job.draft, target.path);
      const url = typeof current === 'string' ? current : '';
      const secret = value !== '' ? value : target.kind === 'url' ? (literalUrlPassword(url) ?? '') : '';
      if (secret === '') {
        setJob((job) => ({ ...job, error: 'Type the password to keep as a secret first.', message: null }));
        return false;
      }
      try {
        const r = await api.call('secret.set', { name, value: secret });
        const ref = secretRef(name);
        setJob((job) => {
          const next = withField(job, target.path, target.kind === 'url' ? withUrlPassword(url, ref) : ref);
          const where = r.keychain === 'os' ? 'in the OS keychain' : 'by the host, without an OS keychain';
          return { ...next, error: null, message: `Secret ${name} kept ${where}; the job refers to it as ${ref}.` };
        });
        return true;
      } catch (err) {
        const message = toFerryCallError(err).message;
        setJob((job) => ({ ...job, error: message, message: null }));
        return false;
      }
    },

    // --- plan ------------------------------------------------------------------------------
    async runPlan(): Promise<void> {
      planAbort?.abort();
      const abort = new AbortController();
      planAbort = abort;
      const yaml = get().job.yaml;
      set((s) => ({ plan: planStarted(s.plan, now(), yaml) }));
      try {
        const doc = await withHostKeys((acceptNewHostKeys) => api.call('plan.run', { yaml, sample: null, acceptNewHostKeys }, { signal: abort.signal }));
        if (planAbort === abort) set((s) => ({ plan: planDone(s.plan, doc) }));
      } catch (err) {
        const e = toFerryCallError(err);
        if (planAbort === abort) set((s) => ({ plan: planFailed(s.plan, e.code === 'cancelled' ? 'The plan was cancelled.' : e.message) }));
      } finally {
        if (planAbort === abort) planAbort = null;
      }
    },
    cancelPlan(): void {
      planAbort?.abort();
    },

    // --- run -------------------------------------------------------------------------------
    /** Starts the job; `live` follows the sources' replication streams until paused or cancelled. */
    async startRun(resume = false, live = false): Promise<void> {
      const { yaml, draft } = get().job;
      setRun((run) => runStarting(run, latencyBudgetOf(draft), live));
      try {
        const { runId } = await withHostKeys((acceptNewHostKeys) => api.call('run.start', { yaml, resume, live, acceptNewHostKeys }));
        setRun((run) => runAccepted(run, runId));
        waitForRun(runId);
      } catch (err) {
        const message = toFerryCallError(err).message;
        setRun((run) => runCallFailed(run, 'start', message));
      }
    },

    async pauseRun(): Promise<void> {
      const { runId, status } = get().run;
      if (!runId || status !== 'running') return;
      // A cut-over needs the live run: stopping it ends the cut-over too.
      cutoverAbort?.abort();
      setRun((run) => runPending(run, 'pause'));
      try {
        await api.call('run.pause', { runId });
      } catch (err) {
        const message = toFerryCallError(err).message;
        setRun((run) => runCallFailed(run, 'pause', message));
      }
    },

    async resumeRun(): Promise<void> {
      const { runId, status } = get().run;
      if (!runId || status !== 'paused') return;
      setRun(runResuming);
      try {
        const r = await api.call('run.resume', { runId });
        setRun((run) => runAccepted(run, r.runId));
        waitForRun(r.runId);
      } catch (err) {
        const message = toFerryCallError(err).message;
        setRun((run) => runCallFailed(run, 'resume', message));
      }
    },

    async cancelRun(): Promise<void> {
      const { runId, status } = get().run;
      if (!runId) return;
      if (status === 'paused') {
        // Nothing runs; the checkpoint stays but the UI stops offering to resume it.
        await api.call('run.cancel', { runId }).catch(() => undefined);
        setRun(runCancelledWhilePaused);
        return;
      }
      if (status !== 'running') return;
      cutoverAbort?.abort();
      setRun((run) => runPending(run, 'cancel'));
      try {
        await api.call('run.cancel', { runId });
      } catch (err) {
        const message = toFerryCallError(err).message;
        setRun((run) => runCallFailed(run, 'cancel', message));
      }
    },

    /**
     * The guided cut-over of the live run (run.cutover): waits for lag 0, verifies (into the verify
     * state, as a verify of the job), and records the verdict. The live run goes on.
     */
    async cutover(timeoutMs?: number, pauseWritesMs?: number): Promise<void> {
      const { runId, status, liveMode, cutover } = get().run;
      if (!runId || status !== 'running' || !liveMode || cutover.status === 'waiting' || cutover.status === 'verifying') return;
      cutoverAbort?.abort();
      const abort = new AbortController();
      cutoverAbort = abort;
      set((s) => ({ run: cutoverStarted(s.run, now()), verify: verifyStarted() }));
      try {
        const r = await api.call('run.cutover', { runId, ...(timeoutMs !== undefined && { timeoutMs }), ...(pauseWritesMs !== undefined && { pauseWritesMs }) }, { signal: abort.signal });
        set((s) => ({
          run: s.run.runId === runId ? cutoverDone(s.run, r) : s.run,
          // What it verified is the job's latest verify; when it never got that far, there is none.
          verify: r.verify ? verifyResult(s.verify, r.verify) : s.verify.status === 'running' && s.verify.order.length === 0 ? initialVerify() : s.verify,
        }));
      } catch (err) {
        const e = toFerryCallError(err);
        const cancelled = e.code === 'cancelled';
        set((s) => ({
          run: s.run.runId === runId ? cutoverFailed(s.run, e.message, cancelled) : s.run,
          verify: s.verify.status !== 'running' ? s.verify : s.verify.order.length === 0 ? initialVerify() : verifyFailed(s.verify, e.message, cancelled),
        }));
      } finally {
        if (cutoverAbort === abort) cutoverAbort = null;
      }
    },
    cancelCutover(): void {
      cutoverAbort?.abort();
    },

    // --- verify ----------------------------------------------------------------------------
    async runVerify(ttlToleranceMs = 1000): Promise<void> {
      verifyAbort?.abort();
      const abort = new AbortController();
      verifyAbort = abort;
      const yaml = get().job.yaml;
      set({ verify: verifyStarted() });
      try {
        const r = await withHostKeys((acceptNewHostKeys) => api.call('verify.run', { yaml, ttlToleranceMs, acceptNewHostKeys }, { signal: abort.signal }));
        if (verifyAbort === abort) set((s) => ({ verify: verifyResult(s.verify, r) }));
      } catch (err) {
        const e = toFerryCallError(err);
        if (verifyAbort === abort) set((s) => ({ verify: verifyFailed(s.verify, e.message, e.code === 'cancelled') }));
      } finally {
        if (verifyAbort === abort) verifyAbort = null;
      }
    },
    cancelVerify(): void {
      verifyAbort?.abort();
    },

    // --- sandbox ---------------------------------------------------------------------------
    async startSandbox(): Promise<void> {
      set((s) => ({ ui: { ...s.ui, sandbox: { ...s.ui.sandbox, status: 'starting', error: null } } }));
      try {
        const r: CallOutput<'sandbox.start'> = await api.call('sandbox.start', {});
        set((s) => ({
          job: loaded(r.yaml, r.path, `The sandbox is running; its job is ${r.path}.`),
          ui: { ...s.ui, screen: 'job', sandbox: { status: 'on', path: r.path, error: null } },
        }));
      } catch (err) {
        const message = toFerryCallError(err).message;
        set((s) => ({ ui: { ...s.ui, sandbox: { status: 'off', path: null, error: message } } }));
      }
    },

    async stopSandbox(): Promise<void> {
      set((s) => ({ ui: { ...s.ui, sandbox: { ...s.ui.sandbox, status: 'stopping' } } }));
      try {
        await api.call('sandbox.stop', {});
        set((s) => ({ ui: { ...s.ui, sandbox: { status: 'off', path: null, error: null } } }));
      } catch (err) {
        const message = toFerryCallError(err).message;
        set((s) => ({ ui: { ...s.ui, sandbox: { ...s.ui.sandbox, status: 'on', error: message } } }));
      }
    },
  };
}
