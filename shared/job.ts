// The job file contract, shared by the engine, the CLI and the UI.
// Only zod may be imported here: the renderer bundles this file as is.
import { z } from 'zod';

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/** Names end up in directory names (checkpoints, staging dirs), so keep them path-safe. */
const NAME_CHARS = /^[A-Za-z0-9._-]+$/;

/**
 * Replaces the password of a URL with `***`. Works on the raw text rather than on a
 * parsed URL so it also covers strings WHATWG URL refuses (e.g. a password with an
 * unencoded `/` or `#`) and never normalises what the user wrote. Everything between
 * the first `:` of the userinfo and the last `@` is hidden: over-hiding is harmless.
 */
export function redactUrl(url: string): string {
  const schemeEnd = url.indexOf('://');
  const from = schemeEnd >= 0 ? schemeEnd + 3 : 0;
  const at = url.lastIndexOf('@');
  if (at < from) return url;
  const userinfo = url.slice(from, at);
  const colon = userinfo.indexOf(':');
  if (colon < 0 || colon === userinfo.length - 1) return url;
  return url.slice(0, from) + userinfo.slice(0, colon + 1) + '***' + url.slice(at);
}

const URL_FORM = 'redis://[user:password@]host:port[/db] or rediss://…';
const TLS_URL_OPTIONS = ['ca', 'cert', 'key', 'servername', 'insecure'];

/**
 * Checks a Redis URL; returns a problem message (with the password redacted) or
 * undefined when the URL is usable.
 */
export function checkRedisUrl(url: string): string | undefined {
  const shown = JSON.stringify(redactUrl(url));
  const scheme = /^([A-Za-z][A-Za-z0-9+.-]*):\/\//.exec(url);
  if (!scheme || !['redis', 'rediss'].includes(scheme[1]!.toLowerCase())) {
    return `expected ${URL_FORM}, got ${shown}`;
  }
  // WHATWG URL only says "invalid" for a bad port; look at it first to say more.
  const afterUserinfo = url.slice(Math.max(url.lastIndexOf('@') + 1, scheme[0].length));
  const hostPort = /^[^/?#]*/.exec(afterUserinfo)![0];
  const port = /^(?:\[[^\]]*\]|[^:]*)(?::(.*))?$/.exec(hostPort)?.[1];
  if (port !== undefined && port !== '') {
    const n = /^\d+$/.test(port) ? Number(port) : NaN;
    if (!(n >= 1 && n <= 65535)) {
      return `port must be a whole number from 1 to 65535, got "${port}" in ${shown}`;
    }
  }
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return `expected ${URL_FORM}, got ${shown}`;
  }
  if (parsed.hostname === '') return `missing host: expected ${URL_FORM}, got ${shown}`;
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) {
    return `the path must be empty or /<db number> such as /0, got ${shown}`;
  }
  if (parsed.hash !== '') return `a #fragment is not allowed in a Redis URL, got ${shown}`;
  // Same TLS options as the engine's URL parser (main/engine/endpoints/redisUrl.ts).
  for (const name of parsed.searchParams.keys()) {
    if (!TLS_URL_OPTIONS.includes(name)) {
      return `unknown URL option ${JSON.stringify(name)} (known: ${TLS_URL_OPTIONS.join(', ')}) in ${shown}`;
    }
    if (parsed.protocol !== 'rediss:') return `TLS options such as ${JSON.stringify(name)} need a rediss:// URL, got ${shown}`;
  }
  return undefined;
}

const SIZE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  k: 1024,
  kb: 1024,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1024 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1024 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1024 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a byte size: a whole non-negative number of bytes, or text such as "8mb",
 * "512KB", "1.5 mb", "100b" (binary multiples: 1kb = 1024 bytes). Throws a RangeError
 * whose message is fit for the user.
 */
export function parseSize(value: number | string): number {
  if (typeof value === 'number') {
    if (Number.isSafeInteger(value) && value >= 0) return value;
    throw new RangeError(`a size in bytes must be a whole number >= 0, got ${value}`);
  }
  const m = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
  const unit = m ? SIZE_UNITS[m[2]!.toLowerCase()] : undefined;
  if (!m || unit === undefined) {
    throw new RangeError(
      `expected a size such as 8mb, 512kb, 1gb or a number of bytes, got ${JSON.stringify(value)}`,
    );
  }
  const bytes = Math.round(Number(m[1]) * unit);
  if (!Number.isSafeInteger(bytes)) throw new RangeError(`size ${JSON.stringify(value)} is too large`);
  return bytes;
}

// ---------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------

const nameSchema = (what: string) =>
  z.string().superRefine((s, ctx) => {
    if (s === '') ctx.addIssue({ code: 'custom', message: `${what} must not be empty` });
    else if (!NAME_CHARS.test(s) || s === '.' || s === '..') {
      ctx.addIssue({
        code: 'custom',
        message: `${what} may contain only letters, digits, ".", "_" and "-" (it is used in directory names), got ${JSON.stringify(s)}`,
      });
    }
  });

const redisUrlSchema = z.string().superRefine((s, ctx) => {
  const problem = checkRedisUrl(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

const portSchema = z.int().min(1).max(65535);

export const TunnelSchema = z.strictObject({
  host: z.string().min(1),
  port: portSchema.optional(),
  user: z.string().optional(),
  identityFile: z.string().optional(),
  passphrase: z.string().optional(),
  agent: z.boolean().optional(),
  password: z.string().optional(),
  /** Name of another tunnel to hop through first. */
  jump: z.string().optional(),
  knownHosts: z.string().optional(),
  keepaliveMs: z.int().positive().optional(),
});

export const SourceSchema = z.strictObject({
  name: nameSchema('a source name'),
  url: redisUrlSchema.optional(),
  rdb: z.string().min(1).optional(),
  via: z.string().optional(),
  /** direct: read the source itself; replica: through a local staging replica. */
  stage: z.enum(['direct', 'replica']).default('direct'),
});

export const TargetSchema = z.strictObject({
  url: redisUrlSchema,
  via: z.string().optional(),
  cluster: z.boolean().optional(),
});

export const KEY_TYPES = ['string', 'list', 'set', 'zset', 'hash', 'stream'] as const;
export type KeyType = (typeof KEY_TYPES)[number];

const sizeSchema = z
  .union([z.number(), z.string()], { error: 'expected a size such as 8mb, 512kb or a number of bytes' })
  .transform((v, ctx) => {
    try {
      return parseSize(v);
    } catch (err) {
      ctx.issues.push({ code: 'custom', message: (err as Error).message, input: v });
      return z.NEVER;
    }
  });

const parallelSchema = z
  .union([
    z.int().min(1),
    z.strictObject({ sources: z.int().min(1).optional(), staging: z.int().min(1).optional() }),
  ])
  // A bare number is shorthand for { sources: n }.
  .transform((v) => (typeof v === 'number' ? { sources: v, staging: 4 } : { sources: v.sources ?? 4, staging: v.staging ?? 4 }))
  .prefault({});

export const OptionsSchema = z.strictObject({
  onConflict: z.enum(['fail', 'skip', 'replace']).default('fail'),
  /** Source db -> target db; absent dbs keep their number. Keys are decimal strings. */
  dbs: z
    .record(z.string(), z.int().min(0))
    .superRefine((dbs, ctx) => {
      for (const key of Object.keys(dbs)) {
        if (!/^\d+$/.test(key)) {
          ctx.addIssue({ code: 'custom', path: [key], message: 'source db must be a whole number' });
        }
      }
    })
    .default({}),
  /** Glob patterns over key bytes; empty means every key. */
  include: z.array(z.string()).default([]),
  exclude: z.array(z.string()).default([]),
  /** Empty means every type. */
  types: z.array(z.enum(KEY_TYPES)).default([]),
  ttl: z
    .strictObject({ keep: z.boolean().default(true), extendMs: z.int().min(0).default(0) })
    .prefault({}),
  bigKey: z
    .strictObject({
      bytes: sizeSchema.default(8 * 1024 * 1024),
      elements: z.int().positive().default(10_000),
    })
    .prefault({}),
  latencyBudgetMs: z.number().positive().default(2),
  /** Keys per second written to the target at most; 0 = unlimited. */
  maxKeysPerSec: z.number().min(0).default(0),
  /** Payload bytes per second written to the target at most; 0 = unlimited. */
  maxBytesPerSec: z.number().min(0).default(0),
  /** Losses the engineer accepts where the target cannot hold a value exactly (the plan's version verdicts). */
  acceptLoss: z.array(z.enum(['hash-field-ttls'])).default([]),
  parallel: parallelSchema,
  /** The redis-server binary for staging replicas; found on PATH when absent. */
  redisServer: z.string().min(1).optional(),
  /** Keep staging replicas' servers and files after a successful run (for inspection). */
  keepStaging: z.boolean().default(false),
});

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const listNames = (names: string[]) =>
  names.length === 0 ? 'no tunnels are defined' : `known tunnels: ${names.join(', ')}`;

/**
 * Rules that span fields. They run even when other fields are wrong (so one pass
 * reports everything), hence the defensive look at every value.
 */
function checkCrossFields(job: Record<string, unknown>, ctx: z.RefinementCtx<unknown>): void {
  const tunnels = isRecord(job.tunnels) ? job.tunnels : {};
  const tunnelNames = Object.keys(tunnels);
  const checkVia = (via: unknown, path: (string | number)[]) => {
    if (typeof via === 'string' && !(via in tunnels)) {
      ctx.addIssue({
        code: 'custom',
        path,
        message: `unknown tunnel ${JSON.stringify(via)} (${listNames(tunnelNames)})`,
      });
    }
  };

  for (const [name, tunnel] of Object.entries(tunnels)) {
    if (!isRecord(tunnel) || typeof tunnel.jump !== 'string') continue;
    const path = ['tunnels', name, 'jump'];
    if (!(tunnel.jump in tunnels)) {
      checkVia(tunnel.jump, path);
      continue;
    }
    // Follow the jump chain; a loop would never connect.
    const seen = [name];
    let next: unknown = tunnel.jump;
    while (typeof next === 'string' && next in tunnels) {
      if (seen.includes(next)) {
        ctx.addIssue({ code: 'custom', path, message: `jump chain loops: ${[...seen, next].join(' -> ')}` });
        break;
      }
      seen.push(next);
      const t = tunnels[next];
      next = isRecord(t) ? t.jump : undefined;
    }
  }

  if (Array.isArray(job.sources)) {
    const firstIndex = new Map<string, number>();
    job.sources.forEach((source: unknown, i) => {
      if (!isRecord(source)) return;
      const hasUrl = source.url !== undefined;
      const hasRdb = source.rdb !== undefined;
      if (hasUrl && hasRdb) {
        ctx.addIssue({ code: 'custom', path: ['sources', i], message: 'give either url or rdb, not both' });
      } else if (!hasUrl && !hasRdb) {
        ctx.addIssue({
          code: 'custom',
          path: ['sources', i],
          message: 'give either url (a live server) or rdb (a dump file)',
        });
      }
      if (hasRdb && !hasUrl) {
        if (source.via !== undefined) {
          ctx.addIssue({
            code: 'custom',
            path: ['sources', i, 'via'],
            message: 'an rdb source is a local file and does not go through a tunnel',
          });
        }
        if (source.stage === 'replica') {
          ctx.addIssue({
            code: 'custom',
            path: ['sources', i, 'stage'],
            message: 'an rdb source is read from the file; stage: replica needs a url',
          });
        }
      }
      checkVia(source.via, ['sources', i, 'via']);
      if (typeof source.name === 'string') {
        const first = firstIndex.get(source.name);
        if (first === undefined) firstIndex.set(source.name, i);
        else {
          ctx.addIssue({
            code: 'custom',
            path: ['sources', i, 'name'],
            message: `duplicate source name ${JSON.stringify(source.name)} (also used by sources[${first}])`,
          });
        }
      }
    });
  }

  if (isRecord(job.target)) checkVia(job.target.via, ['target', 'via']);
}

export const JobSchema = z
  .strictObject({
    name: nameSchema('the job name'),
    tunnels: z.record(z.string(), TunnelSchema).optional(),
    sources: z.array(SourceSchema).min(1, 'at least one source is needed'),
    target: TargetSchema,
    options: OptionsSchema.prefault({}),
  })
  .superRefine((job, ctx) => checkCrossFields(job, ctx), {
    when: (payload) => isRecord(payload.value),
  });

/** A parsed job: every option is filled in with its default. */
export type Job = z.output<typeof JobSchema>;
/** What a job file may contain (options optional). */
export type JobInput = z.input<typeof JobSchema>;
export type Tunnel = NonNullable<Job['tunnels']>[string];
export type Source = Job['sources'][number];
export type Target = Job['target'];
export type JobOptions = Job['options'];

// ---------------------------------------------------------------------------
// Readable problems
// ---------------------------------------------------------------------------

/** One thing wrong with a job file; `path` is like `sources[2].url`, '' for the whole file. */
export interface JobProblem {
  path: string;
  message: string;
}

/**
 * Writes a path the way a user reads the YAML: `sources[2].url`, `tunnels.idc.port`,
 * `options.dbs."1"`. Keys that are not plain names are quoted; keys of `options.dbs`
 * always are, since they are db numbers (data), not field names.
 */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  path.forEach((seg, i) => {
    if (typeof seg === 'number') {
      out += `[${seg}]`;
      return;
    }
    const key = String(seg);
    const inDbs = i === 2 && path[0] === 'options' && path[1] === 'dbs';
    const plain = /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key) && !inDbs;
    out += (out === '' ? '' : '.') + (plain ? key : JSON.stringify(key));
  });
  return out;
}

function describeValue(v: unknown): string {
  if (v === undefined) return 'nothing';
  if (v === null) return 'an empty value (null)';
  if (Array.isArray(v)) return 'a list';
  switch (typeof v) {
    case 'string':
      return 'a string';
    case 'number':
    case 'boolean':
      return `${v}`;
    case 'object':
      return 'a mapping';
    default:
      return `a ${typeof v}`;
  }
}

const EXPECTED_NAMES: Record<string, string> = {
  string: 'a string',
  number: 'a number',
  int: 'a whole number',
  boolean: 'true or false',
  object: 'a mapping',
  record: 'a mapping',
  array: 'a list',
};

/** Echoes short scalar values only: long strings could be pasted secrets. */
function quoteInput(v: unknown): string {
  if (typeof v === 'string') return v.length <= 40 ? JSON.stringify(v) : 'a long string';
  return describeValue(v);
}

const ALLOWED_MARK = '\u0000allowed:';

// Messages for zod's built-in issues; issues that carry their own message keep it.
const jobErrorMap: z.core.$ZodErrorMap = (iss) => {
  switch (iss.code) {
    case 'invalid_type':
      if (iss.input === undefined) return 'required field is missing';
      return `expected ${EXPECTED_NAMES[iss.expected] ?? iss.expected}, got ${describeValue(iss.input)}`;
    case 'invalid_value':
      return `expected one of ${iss.values.map(String).join(', ')}, got ${quoteInput(iss.input)}`;
    case 'unrecognized_keys': {
      // Split per key (with the allowed list) in toProblems; the map cannot see the shape there.
      const shape = iss.inst instanceof z.ZodObject ? Object.keys(iss.inst.shape) : [];
      return `${ALLOWED_MARK}${shape.join(', ')}`;
    }
    case 'too_small': {
      const min = String(iss.minimum);
      if (iss.origin === 'string') return 'must not be empty';
      if (iss.origin === 'array') return `needs at least ${min} item${min === '1' ? '' : 's'}`;
      const bound = iss.inclusive === false ? `greater than ${min}` : `at least ${min}`;
      return `must be ${bound}, got ${describeValue(iss.input)}`;
    }
    case 'too_big': {
      const max = String(iss.maximum);
      const bound = iss.inclusive === false ? `less than ${max}` : `at most ${max}`;
      return `must be ${bound}, got ${describeValue(iss.input)}`;
    }
    case 'invalid_union': {
      const expected = new Set<string>();
      for (const branch of iss.errors) {
        for (const e of branch) {
          if (e.code === 'invalid_type' && e.path.length === 0) expected.add(EXPECTED_NAMES[e.expected] ?? e.expected);
        }
      }
      if (expected.size === 0) return undefined;
      return `expected ${[...expected].join(' or ')}, got ${describeValue(iss.input)}`;
    }
    default:
      return undefined;
  }
};

function toProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[]): JobProblem[] {
  const out: JobProblem[] = [];
  for (const iss of issues) {
    const path = [...prefix, ...iss.path];
    if (iss.code === 'unrecognized_keys') {
      const allowed = iss.message.startsWith(ALLOWED_MARK) ? iss.message.slice(ALLOWED_MARK.length) : '';
      for (const key of iss.keys) {
        out.push({
          path: formatPath([...path, key]),
          message: `unknown field ${JSON.stringify(key)}${allowed ? ` (allowed: ${allowed})` : ''}`,
        });
      }
      continue;
    }
    if (iss.code === 'invalid_union' && iss.errors.length > 0) {
      // Report the branch whose type matched the value (e.g. the number in `parallel: 0`).
      const matching = iss.errors.filter(
        (branch) => !branch.some((e) => e.code === 'invalid_type' && e.path.length === 0),
      );
      if (matching.length === 1) {
        out.push(...toProblems(matching[0]!, path));
        continue;
      }
    }
    out.push({ path: formatPath(path), message: iss.message });
  }
  return out;
}

export type JobValidation = { ok: true; job: Job } | { ok: false; problems: JobProblem[] };

/**
 * Validates an already-expanded job document (no `${...}` left) and returns every
 * problem in plain English. The UI uses this as is; the engine's loader adds the
 * file reading, YAML and `${env:…}` steps around it.
 */
export function validateJob(data: unknown): JobValidation {
  const result = JobSchema.safeParse(data, { error: jobErrorMap });
  if (result.success) return { ok: true, job: result.data };
  return { ok: false, problems: toProblems(result.error.issues, []) };
}
