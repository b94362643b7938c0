import { isSeq, parseDocument } from 'yaml';
import { validateJob, type JobInput, type JobProblem } from '../../../shared/job.js';

/**
 * The job as the forms see it: whatever the YAML holds (it may be half written), read defensively.
 * The YAML text is the source of truth; this object is derived from it after every edit.
 */
export type JobDraft = Partial<Record<keyof JobInput, unknown>> & Record<string, unknown>;

export type FieldPath = ReadonlyArray<string | number>;

export const NEW_JOB_YAML = `name: my-job
sources:
  - name: source-1
    url: redis://127.0.0.1:6379
target:
  url: redis://127.0.0.1:6380
options:
  onConflict: fail
`;

export interface ParsedJob {
  draft: JobDraft;
  /** A YAML syntax error (line and column in the message), or null. */
  syntaxError: string | null;
}

export function parseJobYaml(text: string): ParsedJob {
  const doc = parseDocument(text, { prettyErrors: true });
  if (doc.errors.length > 0) return { draft: {}, syntaxError: doc.errors[0]!.message.split('\n')[0]! };
  const data: unknown = doc.toJS();
  return { draft: isRecord(data) ? data : {}, syntaxError: null };
}

/**
 * Sets (or, with `undefined`, removes) one field in the YAML text, keeping comments and the layout
 * of everything else. Returns null when the text does not parse (the forms are off then).
 */
export function setYamlField(text: string, path: FieldPath, value: unknown): string | null {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return null;
  if (value === undefined) {
    if (doc.hasIn(path)) doc.deleteIn(path);
  } else {
    if (typeof value !== 'object' || value === null) {
      // A scalar keeps the node it replaces (and so its quoting style).
      doc.setIn(path, value);
    } else {
      const node = doc.createNode(value);
      // Short lists of scalars read best inline: include: ["user:*", "session:*"].
      if (isSeq(node) && Array.isArray(value) && value.every((v) => typeof v !== 'object' || v === null)) node.flow = true;
      doc.setIn(path, node);
    }
  }
  return doc.toString({ lineWidth: 0 });
}

/** Appends an item to the list at `path` (created when missing). */
export function addYamlItem(text: string, path: FieldPath, item: unknown): string | null {
  const doc = parseDocument(text);
  if (doc.errors.length > 0) return null;
  if (doc.hasIn(path)) doc.addIn(path, doc.createNode(item));
  else doc.setIn(path, doc.createNode([item]));
  return doc.toString({ lineWidth: 0 });
}

// ---------------------------------------------------------------------------
// Reading the draft
// ---------------------------------------------------------------------------

export function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function recordAt(draft: unknown, path: FieldPath): Record<string, unknown> {
  const v = valueAt(draft, path);
  return isRecord(v) ? v : {};
}

export function listAt(draft: unknown, path: FieldPath): unknown[] {
  const v = valueAt(draft, path);
  return Array.isArray(v) ? v : [];
}

export function valueAt(draft: unknown, path: FieldPath): unknown {
  let cur: unknown = draft;
  for (const seg of path) {
    if (typeof seg === 'number') cur = Array.isArray(cur) ? cur[seg] : undefined;
    else cur = isRecord(cur) ? cur[seg] : undefined;
    if (cur === undefined) return undefined;
  }
  return cur;
}

/** A scalar as the text an input shows. */
export function textOf(v: unknown): string {
  if (v === undefined || v === null) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  return JSON.stringify(v);
}

/** Input text as the value written to YAML: '' removes the field; a number stays a number. */
export function numberOrText(text: string): number | string | undefined {
  const t = text.trim();
  if (t === '') return undefined;
  return /^-?\d+(\.\d+)?$/.test(t) ? Number(t) : t;
}

/** `user:*, session:*` (or one per line) as a list; '' removes the field. */
export function listFromText(text: string): string[] | undefined {
  const items = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return items.length > 0 ? items : undefined;
}

/** `0:0, 3:0` as the dbs mapping `{ "0": 0, "3": 0 }` (unparseable pairs are kept as text, so validation names them). */
export function dbsFromText(text: string): Record<string, number | string> | undefined {
  const out: Record<string, number | string> = {};
  for (const pair of text.split(/[,\n]/)) {
    const p = pair.trim();
    if (p === '') continue;
    const [from, to] = p.split(/\s*(?::|->|=>|=)\s*/);
    if (!from) continue;
    const t = (to ?? '').trim();
    out[from.trim()] = /^\d+$/.test(t) ? Number(t) : t;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export function dbsToText(v: unknown): string {
  return isRecord(v)
    ? Object.entries(v)
        .map(([k, t]) => `${k}:${textOf(t)}`)
        .join(', ')
    : '';
}

// ---------------------------------------------------------------------------
// Local check
// ---------------------------------------------------------------------------

/** `${secret:NAME}` and `${env:NAME}` are expanded by the host; for a local check they stand for "1". */
function withoutPlaceholders(v: unknown): unknown {
  if (typeof v === 'string') return v.replace(/\$\{[^}]*\}/g, '1');
  if (Array.isArray(v)) return v.map(withoutPlaceholders);
  if (isRecord(v)) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, withoutPlaceholders(x)]));
  return v;
}

/** The problems the shared schema finds without the host (the host's job.validate is the authority). */
export function localProblems(parsed: ParsedJob): JobProblem[] {
  if (parsed.syntaxError) return [{ path: '', message: `YAML: ${parsed.syntaxError}` }];
  const result = validateJob(withoutPlaceholders(parsed.draft));
  return result.ok ? [] : result.problems;
}

// ---------------------------------------------------------------------------
// Secrets
// ---------------------------------------------------------------------------

export function secretRef(name: string): string {
  return `\${secret:${name}}`;
}

/** A secret name from free text: `idc-01 password` -> `IDC_01_PASSWORD`. */
export function secretName(text: string): string {
  const up = text.toUpperCase().replace(/[^A-Z0-9_]+/g, '_').replace(/^_+|_+$/g, '');
  const name = up === '' ? 'SECRET' : up;
  return /^[A-Z_]/.test(name) ? name : `_${name}`;
}

/** Where the URL's userinfo is: [start, end) of `user:pass` before the last `@`, or null. */
function userinfoRange(url: string): { from: number; at: number } | null {
  const schemeEnd = url.indexOf('://');
  const from = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = url.lastIndexOf('@');
  return at >= from ? { from, at } : null;
}

/** The literal password written in a URL (not a `${...}` reference), or null. */
export function literalUrlPassword(url: string): string | null {
  const r = userinfoRange(url);
  if (!r) return null;
  const userinfo = url.slice(r.from, r.at);
  const colon = userinfo.indexOf(':');
  if (colon < 0) return null;
  const pass = userinfo.slice(colon + 1);
  if (pass === '' || /^\$\{[^}]*\}$/.test(pass)) return null;
  try {
    return decodeURIComponent(pass);
  } catch {
    return pass;
  }
}

/** The URL with its password replaced by `secretText` (the user name, if any, kept). */
export function withUrlPassword(url: string, secretText: string): string {
  const schemeEnd = url.indexOf('://');
  const from = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const r = userinfoRange(url);
  if (!r) return `${url.slice(0, from)}:${secretText}@${url.slice(from)}`;
  const userinfo = url.slice(r.from, r.at);
  const colon = userinfo.indexOf(':');
  const user = colon < 0 ? userinfo : userinfo.slice(0, colon);
  return `${url.slice(0, r.from)}${user}:${secretText}${url.slice(r.at)}`;
}

/** The job's endpoint names as endpoint.test takes them: `target` and every source name. */
export function endpointNames(draft: JobDraft): string[] {
  const names = listAt(draft, ['sources'])
    .map((s) => (isRecord(s) && typeof s.name === 'string' ? s.name : ''))
    .filter((n) => n !== '');
  return [...names, 'target'];
}

/** options.latencyBudgetMs, or its default (2). */
export function latencyBudgetOf(draft: JobDraft): number {
  const v = valueAt(draft, ['options', 'latencyBudgetMs']);
  return typeof v === 'number' && v > 0 ? v : 2;
}
