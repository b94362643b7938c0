// What job.save checks before a job reaches the disk: no password written out in the YAML itself.
// The raw text is checked, before `${…}` expansion: a reference is fine, its value never is.
import YAML from 'yaml';
import { formatPath, type JobProblem } from '../../shared/job.js';

const REFERENCE = /\$\{[^}]*\}/g;
/** The whole value is one reference, e.g. `${secret:IDC_PASSWORD}` or `${env:IDC_PASSWORD}`. */
const ONE_REFERENCE = /^\$\{\s*(secret|env)\s*:\s*[^}\s]+\s*\}$/;
const SECRET_FIELDS = new Set(['password', 'passphrase']);
const SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;

/** Every place in the job text where a password or passphrase is written literally. */
export function findLiteralSecrets(text: string): JobProblem[] {
  const doc = YAML.parseDocument(text, { merge: true });
  let data: unknown;
  try {
    if (doc.errors.length > 0) throw doc.errors[0];
    data = doc.toJS();
  } catch {
    // Unreadable YAML may still hold a password: nothing is written that was not checked.
    return [{ path: '', message: 'the YAML does not parse, so it cannot be checked for passwords; fix the YAML (job.validate shows where) and save again' }];
  }
  const problems: JobProblem[] = [];
  walk(data, [], problems);
  return problems;
}

function walk(value: unknown, at: (string | number)[], problems: JobProblem[]): void {
  if (typeof value === 'string') {
    if (hasLiteralUrlPassword(value)) {
      problems.push({
        path: formatPath(at),
        message: 'the URL holds a literal password: keep it as a secret and write the URL as redis://user:${secret:NAME}@host:port',
      });
    }
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((v, i) => walk(v, [...at, i], problems));
    return;
  }
  if (typeof value !== 'object' || value === null) return;
  for (const [key, v] of Object.entries(value)) {
    if (SECRET_FIELDS.has(key) && isLiteral(v)) {
      problems.push({
        path: formatPath([...at, key]),
        message: `a literal ${key}: keep it as a secret and write ${key}: \${secret:NAME} (or \${env:NAME} for an environment variable)`,
      });
    } else {
      walk(v, [...at, key], problems);
    }
  }
}

function isLiteral(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return false;
  return !(typeof value === 'string' && ONE_REFERENCE.test(value.trim()));
}

/** The password part of a URL's userinfo is anything but exactly one reference. */
function hasLiteralUrlPassword(url: string): boolean {
  // References are masked first: their own `:` must not be taken for the userinfo's.
  const refs: string[] = [];
  const masked = url.replace(REFERENCE, (ref) => `\u0000${refs.push(ref) - 1}\u0000`);
  const scheme = SCHEME.exec(masked);
  if (!scheme) return false;
  const at = masked.lastIndexOf('@');
  if (at < scheme[0].length) return false;
  const userinfo = masked.slice(scheme[0].length, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return false;
  const password = userinfo.slice(colon + 1);
  if (password === '') return false;
  const only = /^\u0000(\d+)\u0000$/.exec(password);
  return !(only && ONE_REFERENCE.test(refs[Number(only[1])]!));
}
