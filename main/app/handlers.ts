// The host's one implementation of every call in shared/api.ts. Both doors (Electron IPC and
// `ferry serve`) reach these through the dispatcher; they know nothing of either transport.
import fs from 'node:fs';
import path from 'node:path';
import type { z } from 'zod';
import type { AppEvent, CallName, CallOutput, CALLS } from '../../shared/api.js';
import type { EngineEvent } from '../../shared/events.js';
import type { Job } from '../../shared/job.js';
import { EventBus } from '../engine/events/eventBus.js';
import { Endpoint, type EndpointSpec } from '../engine/endpoints/endpoint.js';
import { LatencyProbes } from '../engine/pacing/latencyProbe.js';
import { planJob } from '../engine/plan/planner.js';
import { probeEndpoint } from '../engine/plan/probeEndpoint.js';
import { stateDirFor, writeFileAtomic } from '../engine/run/stateDir.js';
import { startSandbox, type Sandbox } from '../engine/sandbox/sandbox.js';
import { TunnelSet } from '../engine/tunnels/tunnelSet.js';
import { verifyJob } from '../engine/verify/verifier.js';
import { JobFileError } from '../engine/job/loadJob.js';
import { BadInputError, CancelledError } from './errors.js';
import { jobTextReader } from './jobText.js';
import { findLiteralSecrets } from './literalSecrets.js';
import { RunRegistry } from './runs.js';
import type { SecretStore } from './secrets.js';

/** What a handler gets: the input after its schema's defaults and checks. */
export type HandlerInput<K extends CallName> = z.output<(typeof CALLS)[K]['input']>;

export interface CallContext {
  /** Aborted when the caller cancels the call. */
  signal: AbortSignal;
  /** The caller's id for this call: the `op` of the events a plan or verify sends. */
  callId: string;
}

export type Handler<K extends CallName> = (input: HandlerInput<K>, ctx: CallContext) => Promise<CallOutput<K>>;
export type Handlers = { [K in CallName]: Handler<K> };

/** The handlers, and how the host stops what they started (runs, the sandbox) when it exits. */
export type HostHandlers = Handlers & { shutdown(): Promise<void> };

export interface HandlerDeps {
  secrets: SecretStore;
  /** Where the workbench keeps job state (checkpoints, journals, reports) and the sandbox; relative job paths start here. */
  workDir: string;
  version: string;
  /** Every event of every operation, for the door to pass on to the UI. */
  emit: (event: AppEvent) => void;
}

const JOB_FILE = /\.ya?ml$/i;

export function createHandlers(deps: HandlerDeps): HostHandlers {
  const workDir = path.resolve(deps.workDir);
  fs.mkdirSync(workDir, { recursive: true });
  const jobs = jobTextReader(deps.secrets, workDir);
  // A listener that throws must not break the engine that emitted the event.
  const emit = (event: AppEvent) => {
    try {
      deps.emit(event);
    } catch {
      /* the door's problem, not the operation's */
    }
  };
  const emitter = (kind: AppEvent['kind'], op: string) => (event: EngineEvent) => emit({ kind, op, event });
  // One state directory per job name under the work dir: a paused run resumes from it after a restart.
  const stateDirOf = (job: Job) => stateDirFor(job.name, undefined, path.join(workDir, 'state', job.name));
  const runs = new RunRegistry({ load: jobs.load, stateDirOf, emit });
  const sandbox = new SandboxHost(workDir);

  const handlers: Handlers = {
    'app.info': async () => ({ version: deps.version, keychain: deps.secrets.keychain, workDir }),

    'job.validate': async ({ yaml }) => {
      const problems = jobs.problems(yaml);
      return { ok: problems.length === 0, problems };
    },

    'job.open': async ({ path: given }) => {
      const file = jobFilePath(workDir, given);
      try {
        return { path: file, yaml: await fs.promises.readFile(file, 'utf8') };
      } catch (err) {
        throw new BadInputError(`cannot read job file ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message}): check the path, and that Ferry may read it`);
      }
    },

    'job.save': async ({ path: given, yaml }) => {
      const file = jobFilePath(workDir, given);
      const problems = findLiteralSecrets(yaml);
      if (problems.length > 0) throw new JobFileError(file, problems);
      fs.mkdirSync(path.dirname(file), { recursive: true });
      writeFileAtomic(file, yaml);
      return { path: file };
    },

    'endpoint.test': async ({ yaml, endpoint: name, acceptNewHostKeys }, { callId }) => {
      const one = await openOneEndpoint(jobs.load(yaml).job, name, acceptNewHostKeys, emitter('endpoint', callId));
      try {
        const probe = await probeEndpoint(one.spec);
        probe.endpoint?.close();
        return probe.facts;
      } finally {
        one.close();
      }
    },

    'endpoint.watch': async ({ yaml, endpoint: name, acceptNewHostKeys }, { callId, signal }) => {
      const { job } = jobs.load(yaml);
      const onEvent = emitter('endpoint', callId);
      const one = await openOneEndpoint(job, name, acceptNewHostKeys, onEvent);
      let endpoint: Endpoint | null = null;
      const probes = new LatencyProbes({ budgetMs: job.options.latencyBudgetMs, onEvent, onWarning: (message) => onEvent({ type: 'warning', message, at: Date.now() }) });
      try {
        endpoint = await Endpoint.open(one.spec);
        await probes.start([{ name, endpoint }]);
        // Watched until the caller lets go (it aborts the call).
        await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
        return {};
      } finally {
        await probes.stop();
        endpoint?.close();
        one.close();
      }
    },

    'plan.run': async ({ yaml, sample, acceptNewHostKeys }, { callId }) => {
      const loaded = jobs.load(yaml);
      return planJob(loaded, { sample, tunnels: { acceptNewHostKeys }, stateDir: stateDirOf(loaded.job), onEvent: emitter('plan', callId) });
    },

    'run.start': async ({ yaml, resume, live, acceptNewHostKeys }) => ({ runId: runs.start(yaml, { resume, live, acceptNewHostKeys }) }),
    'run.wait': async ({ runId }, { signal }) => runs.wait(runId, signal),
    'run.pause': async ({ runId }) => (await runs.pause(runId), {}),
    'run.resume': async ({ runId }) => ({ runId: runs.resume(runId) }),
    'run.cancel': async ({ runId }) => (await runs.cancel(runId), {}),
    // Its verify's events go as verify.run's do (kind `verify`, op = this call's id): the UI's verify
    // state takes them as they are, and the run's own events stay the run's.
    'run.cutover': async ({ runId, timeoutMs, ttlToleranceMs, pauseWritesMs }, { callId, signal }) =>
      runs.cutover(runId, { timeoutMs, ttlToleranceMs, pauseWritesMs, signal, onEvent: emitter('verify', callId) }),

    'verify.run': async ({ yaml, ttlToleranceMs, acceptNewHostKeys }, { callId, signal }) => {
      const loaded = jobs.load(yaml);
      const bus = new EventBus();
      bus.on(emitter('verify', callId));
      const result = await verifyJob(loaded, { stateDir: stateDirOf(loaded.job), ttlToleranceMs, signal, tunnels: { acceptNewHostKeys } }, bus);
      // A cancelled verify ends early with partial counts: not a result to show as one.
      if (signal.aborted) throw new CancelledError('verify cancelled');
      return result;
    },

    'sandbox.start': async () => sandbox.start(),
    'sandbox.stop': async () => (await sandbox.stop(), {}),

    'secret.set': async ({ name, value }) => {
      deps.secrets.set(name, value);
      return { keychain: deps.secrets.keychain };
    },
    'secret.list': async () => ({ names: deps.secrets.names() }),
  };

  return {
    ...handlers,
    shutdown: async () => {
      await Promise.all([runs.stopAll(), sandbox.stop()]);
    },
  };
}

/** Job files are YAML: anything else is refused, so a call cannot read or overwrite other files. */
function jobFilePath(workDir: string, given: string): string {
  const file = path.resolve(workDir, given);
  if (!JOB_FILE.test(file)) throw new BadInputError(`${file} is not a job file: job files end in .yaml or .yml`);
  return file;
}

/** `target` or a source's name, as probeEndpoint wants it, with the tunnel it goes through. */
function endpointOf(job: Job, name: string): { role: 'source' | 'target'; name: string; url: string; cluster?: boolean; via?: string } {
  if (name === 'target') return { role: 'target', name, url: job.target.url, cluster: job.target.cluster, via: job.target.via };
  const source = job.sources.find((s) => s.name === name);
  if (!source) throw new BadInputError(`job ${job.name} has no endpoint ${JSON.stringify(name)}; give target or a source name (${job.sources.map((s) => s.name).join(', ')})`);
  if (source.url === undefined) throw new BadInputError(`source ${name} is an RDB file, not a server: there is nothing to connect to`);
  return { role: 'source', name, url: source.url, via: source.via };
}

/**
 * One endpoint of a job, ready to open: its spec with the route through its tunnel, if it has one.
 * Only that tunnel is opened: testing one endpoint must not need the others.
 */
async function openOneEndpoint(job: Job, name: string, acceptNewHostKeys: boolean, onEvent: (e: EngineEvent) => void): Promise<{ spec: EndpointSpec; close(): void }> {
  const { via, ...spec } = endpointOf(job, name);
  const tunnels = await TunnelSet.forJob(
    { ...job, sources: [], target: { ...job.target, via } },
    { acceptNewHostKeys, onEvent, onWarning: (message) => onEvent({ type: 'warning', message, at: Date.now() }) },
  );
  return { spec: { ...spec, route: via && tunnels ? tunnels.route(via) : undefined }, close: () => tunnels?.close() };
}

/** The built-in sandbox: started once (a second start returns the same), stopped on request or shutdown. */
class SandboxHost {
  private running: Promise<Sandbox> | null = null;

  constructor(private readonly workDir: string) {}

  async start(): Promise<{ yaml: string; path: string }> {
    this.running ??= this.launch();
    const sandbox = await this.running;
    return { yaml: await fs.promises.readFile(sandbox.jobPath, 'utf8'), path: sandbox.jobPath };
  }

  async stop(): Promise<void> {
    const running = this.running;
    this.running = null;
    const sandbox = await running?.catch(() => null);
    await sandbox?.stop();
  }

  private async launch(): Promise<Sandbox> {
    // A directory of its own each time: a crashed session's cluster files must not be picked up.
    const parent = path.join(this.workDir, 'sandbox');
    fs.mkdirSync(parent, { recursive: true });
    try {
      return await startSandbox({ dir: fs.mkdtempSync(path.join(parent, 'sandbox-')) });
    } catch (err) {
      this.running = null;
      throw err;
    }
  }
}
