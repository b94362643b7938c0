import type { EndpointFacts } from '../../../shared/plan.js';
import type { JobProblem } from '../../../shared/job.js';
import { localProblems, NEW_JOB_YAML, parseJobYaml, setYamlField, addYamlItem, type FieldPath, type JobDraft } from './jobModel.js';

export interface EndpointCheck {
  status: 'testing' | 'done' | 'failed';
  facts: EndpointFacts | null;
  error: string | null;
}

export interface JobState {
  /** The source of truth: what is validated, saved and run. */
  yaml: string;
  /** The YAML as last opened, saved or created (dirty = yaml differs). */
  savedYaml: string;
  dirty: boolean;
  /** The file it was opened from or saved to ('' for a new job). */
  path: string;
  /** The YAML read as an object, for the forms (the last good one while the text has a syntax error). */
  draft: JobDraft;
  syntaxError: string | null;
  problems: JobProblem[];
  /** local: the shared schema's quick check of the current text; host: job.validate's answer. */
  problemsFrom: 'local' | 'host';
  /** The YAML the host's problems are about. */
  validatedYaml: string | null;
  endpoints: Record<string, EndpointCheck>;
  /** Endpoints whose latency is being watched (endpoint.watch), with their last seconds. */
  watching: Record<string, LatencyPoint[]>;
  /** A short status line (opened, saved, stored a secret), and the last error. */
  message: string | null;
  error: string | null;
}

export function initialJob(yaml = NEW_JOB_YAML, path = ''): JobState {
  const parsed = parseJobYaml(yaml);
  return {
    yaml,
    savedYaml: yaml,
    dirty: false,
    path,
    draft: parsed.draft,
    syntaxError: parsed.syntaxError,
    problems: localProblems(parsed),
    problemsFrom: 'local',
    validatedYaml: null,
    endpoints: {},
    watching: {},
    message: null,
    error: null,
  };
}

/** A new text (typed in the YAML area, or written by a form). */
export function withYaml(job: JobState, yaml: string): JobState {
  if (yaml === job.yaml) return job;
  const parsed = parseJobYaml(yaml);
  return {
    ...job,
    yaml,
    dirty: yaml !== job.savedYaml,
    draft: parsed.syntaxError ? job.draft : parsed.draft,
    syntaxError: parsed.syntaxError,
    problems: localProblems(parsed),
    problemsFrom: 'local',
    validatedYaml: null,
    message: null,
    error: null,
  };
}

/** A form edit: one field set (or removed with undefined) in the YAML. Ignored while the YAML does not parse. */
export function withField(job: JobState, path: FieldPath, value: unknown): JobState {
  const yaml = setYamlField(job.yaml, path, value);
  return yaml === null ? job : withYaml(job, yaml);
}

export function withItem(job: JobState, path: FieldPath, item: unknown): JobState {
  const yaml = addYamlItem(job.yaml, path, item);
  return yaml === null ? job : withYaml(job, yaml);
}

/** A job opened from a file (or made by the sandbox): clean, nothing tested yet. */
export function loaded(yaml: string, path: string, message: string): JobState {
  return { ...initialJob(yaml, path), message };
}

export function saved(job: JobState, yaml: string, path: string): JobState {
  return { ...job, savedYaml: yaml, path, dirty: job.yaml !== yaml, message: `Saved ${path}`, error: null };
}

/** job.validate's answer for `yaml` (kept only if the text has not changed since). */
export function withHostProblems(job: JobState, yaml: string, problems: JobProblem[]): JobState {
  if (yaml !== job.yaml) return job;
  return { ...job, problems, problemsFrom: 'host', validatedYaml: yaml, message: problems.length === 0 ? 'The job is valid.' : null };
}

/** One second of a watched endpoint (a cluster's nodes merged: the worst of them). */
export interface LatencyPoint {
  at: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Seconds of a watched endpoint kept for its sparkline. */
export const WATCH_SECONDS = 60;

export function watchStarted(job: JobState, name: string): JobState {
  return { ...job, watching: { ...job.watching, [name]: [] } };
}

export function watchStopped(job: JobState, name: string): JobState {
  if (!(name in job.watching)) return job;
  const { [name]: _gone, ...rest } = job.watching;
  return { ...job, watching: rest };
}

/** A `latency` event of kind `endpoint`: ignored unless that endpoint is being watched. */
export function watchedLatency(job: JobState, e: { endpoint: string; at: number; p50Ms: number; p99Ms: number; maxMs: number }): JobState {
  const points = job.watching[e.endpoint];
  if (!points) return job;
  const second = Math.floor(e.at / 1000);
  const last = points.at(-1);
  const next =
    last && Math.floor(last.at / 1000) === second
      ? [...points.slice(0, -1), { at: last.at, p50Ms: Math.max(last.p50Ms, e.p50Ms), p99Ms: Math.max(last.p99Ms, e.p99Ms), maxMs: Math.max(last.maxMs, e.maxMs) }]
      : [...points.slice(-(WATCH_SECONDS - 1)), { at: e.at, p50Ms: e.p50Ms, p99Ms: e.p99Ms, maxMs: e.maxMs }];
  return { ...job, watching: { ...job.watching, [e.endpoint]: next } };
}

export function withEndpointCheck(job: JobState, name: string, check: EndpointCheck): JobState {
  return { ...job, endpoints: { ...job.endpoints, [name]: check } };
}
