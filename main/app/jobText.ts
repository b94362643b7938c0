// Jobs as the workbench holds them: YAML text, with `${secret:NAME}` taken from the host's store.
import { JobFileError, parseJobText, type LoadedJob } from '../engine/job/loadJob.js';
import type { JobProblem } from '../../shared/job.js';
import { unsupportedProblems } from '../engine/run/openEndpoints.js';
import type { SecretStore } from './secrets.js';

/** How a job from the editor is named in messages ("job file in the editor: 2 problems"). */
const FROM_EDITOR = 'in the editor';

export interface JobTextReader {
  /** The job, or a JobFileError listing every problem. */
  load(yaml: string): LoadedJob;
  /** Every problem of the job, including what this version cannot run yet; empty when it can run. */
  problems(yaml: string): JobProblem[];
}

export function jobTextReader(secrets: SecretStore, workDir: string): JobTextReader {
  const load = (yaml: string): LoadedJob => {
    const missing = new Set<string>();
    const resolveSecret = (name: string) => {
      const value = secrets.get(name);
      if (value === undefined) missing.add(name);
      return value;
    };
    try {
      return parseJobText(yaml, { baseDir: workDir, fileName: FROM_EDITOR, resolveSecret });
    } catch (err) {
      if (!(err instanceof JobFileError) || missing.size === 0) throw err;
      // The loader's own message speaks to CLI users; here the fix is in the workbench.
      throw new JobFileError(err.fileName, err.problems.map((p) => explainMissingSecret(p, missing)));
    }
  };
  return {
    load,
    problems(yaml) {
      let loaded: LoadedJob;
      try {
        loaded = load(yaml);
      } catch (err) {
        if (err instanceof JobFileError) return err.problems;
        throw err;
      }
      return unsupportedProblems(loaded.job).map(splitPath);
    },
  };
}

function explainMissingSecret(problem: JobProblem, missing: Set<string>): JobProblem {
  for (const name of missing) {
    if (problem.message.startsWith(`secret ${name} is not available here`)) {
      return { path: problem.path, message: `secret ${name} is not set on this host: add it under Secrets (secret.set), then try again` };
    }
  }
  return problem;
}

/** "sources[0].rdb: RDB files…" -> { path: 'sources[0].rdb', message: 'RDB files…' }. */
function splitPath(message: string): JobProblem {
  const m = /^([\w[\]."-]+): (.*)$/s.exec(message);
  return m ? { path: m[1]!, message: m[2]! } : { path: '', message };
}
