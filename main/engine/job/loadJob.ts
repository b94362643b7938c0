// Reads a job file: YAML -> `${env:…}`/`${secret:…}` expansion -> JobSchema -> paths
// made absolute. Every problem is collected so the user fixes the file in one go.
import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { formatPath, validateJob, type Job, type JobProblem } from '../../../shared/job.js';

export { formatPath };
export type { JobProblem };

export interface LoadedJob {
  job: Job;
  /** Absolute path of the file, when the job came from a file. */
  path?: string;
  /** Absolute directory that relative paths in the job were resolved against. */
  baseDir: string;
}

export interface LoadJobOptions {
  /** Where `${env:NAME}` looks; defaults to process.env. */
  env?: NodeJS.ProcessEnv;
  /** Where `${secret:NAME}` looks; only the desktop app has one. */
  resolveSecret?: (name: string) => string | undefined;
}

export interface ParseJobOptions extends LoadJobOptions {
  baseDir: string;
  /** Shown in the first line of the error; defaults to "<text>". */
  fileName?: string;
}

export class JobFileError extends Error {
  override readonly name = 'JobFileError';

  constructor(
    readonly fileName: string,
    readonly problems: JobProblem[],
  ) {
    super(
      [
        `job file ${fileName}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
        ...problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)),
      ].join('\n'),
    );
  }
}

export async function loadJobFile(file: string, opts: LoadJobOptions = {}): Promise<LoadedJob> {
  const abs = path.resolve(file);
  let text: string;
  try {
    text = await readFile(abs, 'utf8');
  } catch (err) {
    throw new JobFileError(file, [{ path: '', message: `cannot read ${abs}: ${osReason(err)}` }]);
  }
  const loaded = parseJobText(text, { ...opts, baseDir: path.dirname(abs), fileName: file });
  return { ...loaded, path: abs };
}

export function parseJobText(text: string, opts: ParseJobOptions): LoadedJob {
  const fileName = opts.fileName ?? '<text>';
  const baseDir = path.resolve(opts.baseDir);
  const failWith = (problems: JobProblem[]) => new JobFileError(fileName, problems);

  const data = parseYaml(text);
  if (!data.ok) throw failWith(data.problems);
  if (data.value === null || data.value === undefined) {
    throw failWith([{ path: '', message: 'the file is empty; a job needs at least name, sources and target' }]);
  }
  if (typeof data.value !== 'object' || Array.isArray(data.value)) {
    const got = Array.isArray(data.value) ? 'a list' : `a single value (${typeof data.value})`;
    throw failWith([{ path: '', message: `expected a mapping with name, sources and target at the top level, got ${got}` }]);
  }

  const expansion = new Expansion(opts.env ?? process.env, opts.resolveSecret);
  const result = validateJob(expansion.walk(data.value, []));
  if (!result.ok || expansion.problems.length > 0) {
    // A field whose reference failed would also fail validation; one message is enough.
    const schemaProblems = result.ok ? [] : result.problems.filter((p) => !expansion.failedPaths.has(p.path));
    throw failWith(
      [...expansion.problems, ...schemaProblems].map((p) => ({ path: p.path, message: expansion.scrub(p.message) })),
    );
  }
  return { job: resolvePaths(result.job, baseDir), baseDir };
}

function parseYaml(text: string): { ok: true; value: unknown } | { ok: false; problems: JobProblem[] } {
  // merge: `<<: *defaults` is handy for tunnels that share settings.
  const doc = YAML.parseDocument(text, { merge: true });
  if (doc.errors.length > 0) {
    const problems = doc.errors.map((e) => {
      // yaml's message ends with " at line L, column C:" and a snippet of the line,
      // which may hold a password: keep only the first sentence.
      const first = e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?\s*$/, '');
      const pos = e.linePos?.[0];
      return { path: '', message: pos ? `line ${pos.line}, column ${pos.col}: ${first}` : first };
    });
    return { ok: false, problems };
  }
  try {
    return { ok: true, value: doc.toJS() };
  } catch (err) {
    // e.g. too many aliases (a "billion laughs" document)
    return { ok: false, problems: [{ path: '', message: `cannot read the YAML: ${(err as Error).message}` }] };
  }
}

const REFERENCE = /\$\{([^}]*)\}/g;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const SECRET_NAME = /^[A-Za-z0-9_.-]+$/;
/** Environment variables whose values are kept out of messages, beside all secrets. */
const SECRET_LOOKING_ENV = /pass|pwd|secret|token|auth|cred|private|(^|_)key$/i;

/** Expands references in every string value and remembers what went wrong where. */
class Expansion {
  readonly problems: JobProblem[] = [];
  readonly failedPaths = new Set<string>();
  private readonly hidden = new Set<string>();

  constructor(
    private readonly env: NodeJS.ProcessEnv,
    private readonly resolveSecret: ((name: string) => string | undefined) | undefined,
  ) {}

  walk(value: unknown, at: (string | number)[]): unknown {
    if (typeof value === 'string') return this.expand(value, formatPath(at));
    if (Array.isArray(value)) return value.map((v, i) => this.walk(v, [...at, i]));
    if (typeof value === 'object' && value !== null) {
      return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, this.walk(v, [...at, k])]));
    }
    return value;
  }

  /** Replaces substituted secret values in a message, in case a rule echoed one. */
  scrub(message: string): string {
    let out = message;
    for (const value of this.hidden) {
      for (const form of new Set([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)])) {
        out = out.split(form).join('***');
      }
    }
    return out;
  }

  private expand(text: string, at: string): string {
    if (!text.includes('${')) return text;
    const problem = (message: string) => {
      this.problems.push({ path: at, message });
      this.failedPaths.add(at);
    };
    const expanded = text.replace(REFERENCE, (whole, inner: string) => {
      const colon = inner.indexOf(':');
      const kind = colon < 0 ? '' : inner.slice(0, colon).trim();
      const name = colon < 0 ? '' : inner.slice(colon + 1).trim();
      if (kind === 'env' && ENV_NAME.test(name)) {
        const value = this.env[name];
        if (value === undefined) {
          problem(`environment variable ${name} is not set (referenced as ${whole}); export it before running Ferry`);
          return whole;
        }
        if (SECRET_LOOKING_ENV.test(name)) this.hide(value);
        return value;
      }
      if (kind === 'secret' && SECRET_NAME.test(name)) {
        const value = this.resolveSecret?.(name);
        if (value === undefined) {
          problem(
            `secret ${name} is not available here: secrets are kept by the Ferry desktop app; on the command line use \${env:${name}} instead`,
          );
          return whole;
        }
        this.hide(value);
        return value;
      }
      problem(
        `unsupported reference ${whole}: use \${env:NAME} for an environment variable or \${secret:NAME} for a secret of the desktop app`,
      );
      return whole;
    });
    if (text.replace(REFERENCE, '').includes('${')) {
      problem('"${" without a closing "}": write references as ${env:NAME} or ${secret:NAME}');
    }
    return expanded;
  }

  private hide(value: string): void {
    // Very short values would blank out ordinary words of the messages.
    if (value.length >= 3) this.hidden.add(value);
  }
}

/** Files named in a job are relative to the job file, like includes in most tools. */
function resolveFile(file: string, baseDir: string): string {
  if (file === '~') return os.homedir();
  if (file.startsWith('~/') || file.startsWith('~\\')) return path.join(os.homedir(), file.slice(2));
  return path.resolve(baseDir, file);
}

function resolvePaths(job: Job, baseDir: string): Job {
  const tunnels =
    job.tunnels &&
    Object.fromEntries(
      Object.entries(job.tunnels).map(([name, t]) => [
        name,
        {
          ...t,
          ...(t.identityFile !== undefined && { identityFile: resolveFile(t.identityFile, baseDir) }),
          ...(t.knownHosts !== undefined && { knownHosts: resolveFile(t.knownHosts, baseDir) }),
        },
      ]),
    );
  return {
    ...job,
    ...(tunnels && { tunnels }),
    sources: job.sources.map((s) => (s.rdb === undefined ? s : { ...s, rdb: resolveFile(s.rdb, baseDir) })),
  };
}

/** "ENOENT: no such file or directory, open '/x'" -> "no such file or directory (ENOENT)". */
function osReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const text = String(e?.message ?? err).replace(/^[A-Z]+: /, '').replace(/, \w+ '.*'$/, '');
  return e?.code ? `${text} (${e.code})` : text;
}
