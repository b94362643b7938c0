import { z } from 'zod';
import { DifferenceKind, EngineEvent, KeyCounts, LiveEvent } from './events.js';
import { EndpointFacts, PlanDocument } from './plan.js';

/**
 * The one contract between the engine's host (Electron main process, or `ferry serve`) and the UI.
 * Two verbs only: `call` (a request with an input and an output, cancellable) and `listen` (the
 * event stream). The preload API, the Electron IPC handlers and the WebSocket server are all derived
 * from this table, and everything crossing the boundary is parsed with these schemas on the host.
 *
 * Jobs travel as YAML text (what the user saves is what runs). Secrets never travel back: the UI
 * stores them with `secret.set` and the job names them as `${secret:NAME}`.
 */

const JobText = z.object({ yaml: z.string().max(1_000_000) });
/** Calls that may open SSH tunnels: a host key seen for the first time is accepted only when the user said so. */
const HostKeys = { acceptNewHostKeys: z.boolean().default(false) };

export const JobProblem = z.object({ path: z.string(), message: z.string() });

export const RunSummary = z.object({
  runId: z.string(),
  outcome: z.enum(['done', 'failed', 'stopped']),
  counts: KeyCounts,
  perSource: z.record(z.string(), KeyCounts),
  message: z.string().optional(),
  verified: z.object({ compared: z.number(), differences: z.number() }).optional(),
});

export const VerifySummary = z.object({
  compared: z.number(),
  equal: z.number(),
  differences: z.record(DifferenceKind, z.number()),
  keptByPolicy: z.number(),
  vanished: z.number(),
  firstDifferences: z.array(
    z.object({ source: z.string(), db: z.number(), targetDb: z.number(), keyHex: z.string(), kind: DifferenceKind, detail: z.string() }),
  ),
});

export const CALLS = {
  /** What the host offers: the UI adapts (e.g. a warning when secrets cannot be kept in a keychain). */
  'app.info': {
    input: z.object({}),
    output: z.object({ version: z.string(), keychain: z.enum(['os', 'none']), workDir: z.string() }),
  },
  /** Parses and validates a job: every problem with its path, as the CLI reports them. */
  'job.validate': {
    input: JobText,
    output: z.object({ ok: z.boolean(), problems: z.array(JobProblem) }),
  },
  /** Reads a job file (the host's file system). */
  'job.open': {
    input: z.object({ path: z.string().min(1) }),
    output: z.object({ path: z.string(), yaml: z.string() }),
  },
  /** Writes a job file; refused when the YAML holds a literal password (use `${secret:NAME}`). */
  'job.save': {
    input: z.object({ path: z.string().min(1), yaml: z.string().max(1_000_000) }),
    output: z.object({ path: z.string() }),
  },
  /** Connects to one endpoint of the job (`target` or a source name) and reports its facts and round trip. */
  'endpoint.test': {
    input: z.object({ yaml: z.string(), endpoint: z.string().min(1), ...HostKeys }),
    output: EndpointFacts,
  },
  /**
   * Watches one endpoint's latency until cancelled (abort the call): a PING probe per node, one
   * `latency` event of kind `endpoint` per node per second. Resolves with {} once stopped.
   */
  'endpoint.watch': {
    input: z.object({ yaml: z.string(), endpoint: z.string().min(1), ...HostKeys }),
    output: z.object({}),
  },
  /** The dry run. Progress (staging, tunnels) arrives as events of kind `plan`. */
  'plan.run': {
    input: z.object({ yaml: z.string(), sample: z.int().positive().nullable(), ...HostKeys }),
    output: PlanDocument,
  },
  /**
   * Starts a migration and returns at once; its events arrive with `op` = runId. `live`: follow
   * every source's replication stream until paused or cancelled (`ferry run --live`): a full sync,
   * then the commands in order, with `live` events per source node; `resume` with `live` continues
   * from the saved replication offsets (`--live --resume`).
   */
  'run.start': {
    input: z.object({ yaml: z.string(), resume: z.boolean(), live: z.boolean().default(false), ...HostKeys }),
    output: z.object({ runId: z.string() }),
  },
  /** Resolves when the run ends (done, failed, stopped by pause or cancel). */
  'run.wait': {
    input: z.object({ runId: z.string() }),
    output: RunSummary,
  },
  /**
   * Stops after the keys in flight and keeps the checkpoint: `run.resume` goes on from it. A live
   * run stops following its sources and keeps each node's replication offset.
   */
  'run.pause': { input: z.object({ runId: z.string() }), output: z.object({}) },
  /** Continues a paused run from its checkpoint, as a new run id (a live run as live again, from its offsets). */
  'run.resume': { input: z.object({ runId: z.string() }), output: z.object({ runId: z.string() }) },
  /** Stops the run; the checkpoint stays, but the UI will not offer to resume it. */
  'run.cancel': { input: z.object({ runId: z.string() }), output: z.object({}) },
  /**
   * The guided cut-over of a running live run (`ferry cutover`): waits until every source node
   * streams with lag 0 (at most `timeoutMs`, default 10 min), then compares every key; the verify's
   * progress arrives as events of kind `verify` with `op` = this call's id, as `verify.run`'s do.
   * `safe` only when every node caught up and nothing differs; otherwise `reason` says why. The live
   * run goes on either way. Cancel the call to stop waiting.
   */
  'run.cutover': {
    input: z.object({
      runId: z.string(),
      timeoutMs: z.int().positive().max(24 * 3600 * 1000).optional(),
      ttlToleranceMs: z.number().min(0).default(1000),
      /** Pause client writes on every source master (CLIENT PAUSE WRITE, Redis 6.2+) for at most this long while catching up and verifying. */
      pauseWritesMs: z.int().positive().max(3600 * 1000).optional(),
    }),
    output: z.object({
      safe: z.boolean(),
      reason: z.string().nullable(),
      /** Each source node as it stood when the lag was 0 (or when the wait ended). */
      nodes: z.array(LiveEvent),
      /** The verify's counts and first differences; null when it did not get as far as verifying. */
      verify: VerifySummary.nullable(),
    }),
  },
  /** Compares every selected key; progress arrives as events of kind `verify`. */
  'verify.run': {
    input: z.object({ yaml: z.string(), ttlToleranceMs: z.number().min(0).default(1000), ...HostKeys }),
    output: VerifySummary,
  },
  /** Starts the built-in sandbox (local servers with realistic data) and returns a job for it. */
  'sandbox.start': {
    input: z.object({}),
    output: z.object({ yaml: z.string(), path: z.string() }),
  },
  'sandbox.stop': { input: z.object({}), output: z.object({}) },
  /** Keeps a secret (OS keychain where there is one); the job refers to it as `${secret:NAME}`. */
  'secret.set': {
    input: z.object({ name: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/), value: z.string() }),
    output: z.object({ keychain: z.enum(['os', 'none']) }),
  },
  /** The names of the kept secrets (never their values). */
  'secret.list': { input: z.object({}), output: z.object({ names: z.array(z.string()) }) },
} as const;

export type CallName = keyof typeof CALLS;
export type CallInput<K extends CallName> = z.input<(typeof CALLS)[K]['input']>;
export type CallOutput<K extends CallName> = z.output<(typeof CALLS)[K]['output']>;

/** Which operation an event belongs to: `op` is the run id, or the call's id for plan, verify and a cut-over's verify. */
export const AppEvent = z.object({
  kind: z.enum(['run', 'plan', 'verify', 'sandbox', 'endpoint']),
  op: z.string(),
  event: EngineEvent,
});
export type AppEvent = z.infer<typeof AppEvent>;

/** A failed call as it crosses the boundary: never a stack trace, never a secret. */
export const CallError = z.object({
  message: z.string(),
  /**
   * `bad-input` (fix the request or the job), `failed` (the operation failed), `cancelled`,
   * `unknown-host-key` (an SSH host key seen for the first time: ask, then call again with
   * `acceptNewHostKeys: true`).
   */
  code: z.enum(['bad-input', 'failed', 'cancelled', 'unknown-host-key']),
});
export type CallError = z.infer<typeof CallError>;

export const Envelope = z.discriminatedUnion('ok', [z.object({ ok: z.literal(true), value: z.unknown() }), z.object({ ok: z.literal(false), error: CallError })]);
export type Envelope = z.infer<typeof Envelope>;

/** The error a rejected `call` throws in the renderer. */
export class FerryCallError extends Error {
  constructor(
    message: string,
    readonly code: CallError['code'],
  ) {
    super(message);
    this.name = 'FerryCallError';
  }
}

/** What the renderer sees, whichever door it sits behind (Electron preload or WebSocket). */
export interface FerryApi {
  call<K extends CallName>(name: K, input: CallInput<K>, opts?: { signal?: AbortSignal }): Promise<CallOutput<K>>;
  /** Every event of every operation; returns the unsubscribe. */
  listen(handler: (event: AppEvent) => void): () => void;
}

/** Messages on the WebSocket (`ferry serve`), both directions. */
export const WireMessage = z.discriminatedUnion('t', [
  z.object({ t: z.literal('call'), id: z.string(), name: z.string(), input: z.unknown() }),
  z.object({ t: z.literal('cancel'), id: z.string() }),
  z.object({ t: z.literal('reply'), id: z.string(), envelope: Envelope }),
  z.object({ t: z.literal('event'), event: AppEvent }),
]);
export type WireMessage = z.infer<typeof WireMessage>;

/** The IPC channel names Electron uses: derived from the table, never written by hand. */
export const IPC = {
  call: 'ferry:call',
  cancel: 'ferry:cancel',
  event: 'ferry:event',
} as const;

export function isCallName(name: string): name is CallName {
  return Object.prototype.hasOwnProperty.call(CALLS, name);
}
