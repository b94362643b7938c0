import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/**
 * Where a job keeps its checkpoint, skip journal and reports: `$FERRY_STATE_DIR`, else
 * `$XDG_STATE_HOME/ferry`, else `~/.local/state/ferry`; one folder per job file
 * (`<job name>-<hash of the job file's path>`), so two jobs with one name do not collide.
 */
export function stateDirFor(jobName: string, jobPath: string | undefined, override?: string): string {
  if (override) return ensure(override);
  const root = process.env.FERRY_STATE_DIR || path.join(process.env.XDG_STATE_HOME || path.join(os.homedir(), '.local', 'state'), 'ferry');
  const id = crypto.createHash('sha256').update(path.resolve(jobPath ?? jobName)).digest('hex').slice(0, 10);
  return ensure(path.join(root, `${jobName}-${id}`));
}

function ensure(dir: string): string {
  fs.mkdirSync(dir, { recursive: true });
  return dir;
}

/** Writes a file so a crash never leaves it half-written: write a temp file, then rename. */
export function writeFileAtomic(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}
