import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JobSchema, parseSize, redactUrl, validateJob } from '../../shared/job.js';
import { formatPath, JobFileError, loadJobFile, parseJobText } from '../../main/engine/job/loadJob.js';
import { badJobs, UNSET_ENV_VAR } from '../support/badJobs.js';

/** The example of DESIGN.md, section "Job file". */
const DESIGN_EXAMPLE = `name: idc-exit
tunnels:
  idc: { host: bastion.idc.example, user: ops, identityFile: ~/.ssh/id_ed25519 }
  aws: { host: 203.0.113.10, user: ec2-user, agent: true, jump: idc }
sources:
  - { name: idc-01, url: "redis://:\${env:IDC_PASS}@10.0.0.11:6379", via: idc, stage: replica }
  - { name: backup, rdb: ./dump-2019-02-01.rdb }
target: { url: "rediss://app:\${env:TGT_PASS}@master.example.cache:6379", via: aws, cluster: true }
options:
  onConflict: fail        # fail | skip | replace
  dbs: { "0": 0, "1": 0 } # source db -> target db
  include: ["user:*"]
  exclude: ["tmp:*"]
  ttl: { keep: true, extendMs: 0 }
  bigKey: { bytes: 8mb, elements: 10000 }
  latencyBudgetMs: 2
`;

const MINIMAL = `name: t
sources:
  - { name: a, url: "redis://127.0.0.1:6380" }
target: { url: "redis://127.0.0.1:6390" }
`;

const parse = (text: string, env: Record<string, string> = {}) =>
  parseJobText(text, { baseDir: '/jobs', fileName: 'job.yaml', env });

function problemsOf(fn: () => unknown): JobFileError {
  try {
    fn();
  } catch (err) {
    if (err instanceof JobFileError) return err;
    throw err;
  }
  throw new Error('expected a JobFileError');
}

describe('bad job files', () => {
  it('has enough cases', () => expect(badJobs.length).toBeGreaterThanOrEqual(20));

  it.each(badJobs.map((b) => [b.title, b] as const))('%s', (_title, bad) => {
    expect(process.env[UNSET_ENV_VAR]).toBeUndefined();
    const err = problemsOf(() => parse(bad.yaml, bad.env));
    expect(err.message.split('\n')[0]).toMatch(/^job file job\.yaml: \d+ problems?$/);
    expect(err.problems.length).toBeGreaterThan(0);
    for (const s of bad.expect) expect(err.message).toContain(s);
    for (const s of bad.mustNotContain ?? []) {
      expect(err.message).not.toContain(s);
      expect(JSON.stringify(err.problems)).not.toContain(s);
    }
    // One line per problem after the heading.
    expect(err.message.split('\n')).toHaveLength(err.problems.length + 1);
  });
});

describe('loadJobFile', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'ferry-job-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('parses the DESIGN.md example, expanding env vars and resolving paths', async () => {
    const file = path.join(dir, 'idc-exit.yaml');
    await writeFile(file, DESIGN_EXAMPLE);
    const { job, path: loadedPath, baseDir } = await loadJobFile(file, {
      env: { IDC_PASS: 'idc pass', TGT_PASS: 'tgt-pass' },
    });
    expect(loadedPath).toBe(file);
    expect(baseDir).toBe(dir);
    expect(job.name).toBe('idc-exit');
    expect(job.tunnels?.idc?.identityFile).toBe(path.join(os.homedir(), '.ssh/id_ed25519'));
    expect(job.tunnels?.aws).toEqual({ host: '203.0.113.10', user: 'ec2-user', agent: true, jump: 'idc' });
    expect(job.sources).toEqual([
      { name: 'idc-01', url: 'redis://:idc pass@10.0.0.11:6379', via: 'idc', stage: 'replica' },
      { name: 'backup', rdb: path.join(dir, 'dump-2019-02-01.rdb'), stage: 'direct' },
    ]);
    expect(job.target).toEqual({
      url: 'rediss://app:tgt-pass@master.example.cache:6379',
      via: 'aws',
      cluster: true,
    });
    expect(job.options).toEqual({
      onConflict: 'fail',
      dbs: { '0': 0, '1': 0 },
      include: ['user:*'],
      exclude: ['tmp:*'],
      types: [],
      ttl: { keep: true, extendMs: 0 },
      bigKey: { bytes: 8 * 1024 * 1024, elements: 10000 },
      latencyBudgetMs: 2,
      maxKeysPerSec: 0,
      maxBytesPerSec: 0,
      acceptLoss: [],
      parallel: { sources: 4, staging: 4 },
      keepStaging: false,
    });
  });

  it('names the file and the OS reason when the file cannot be read', async () => {
    const missing = path.join(dir, 'nope.yaml');
    const err = await loadJobFile(missing).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(JobFileError);
    expect((err as JobFileError).message).toContain(`job file ${missing}: 1 problem`);
    expect((err as JobFileError).message).toContain(`cannot read ${missing}: no such file or directory (ENOENT)`);
  });

  it('resolves a relative rdb path against the job file directory, not the cwd', async () => {
    const sub = path.join(dir, 'jobs');
    await mkdir(sub, { recursive: true });
    const file = path.join(sub, 'merge.yaml');
    await writeFile(
      file,
      `name: merge\nsources:\n  - { name: a, rdb: ../dumps/a.rdb }\n  - { name: b, rdb: /abs/b.rdb }\n  - { name: c, rdb: "~/c.rdb" }\ntarget: { url: "redis://h:6379" }\n`,
    );
    const { job } = await loadJobFile(path.relative(process.cwd(), file));
    expect(job.sources.map((s) => s.rdb)).toEqual([
      path.join(dir, 'dumps/a.rdb'),
      '/abs/b.rdb',
      path.join(os.homedir(), 'c.rdb'),
    ]);
  });
});

describe('parseJobText', () => {
  it('fills in every default', () => {
    const { job, baseDir } = parse(MINIMAL);
    expect(baseDir).toBe(path.resolve('/jobs'));
    expect(job.sources[0]!.stage).toBe('direct');
    expect(job.tunnels).toBeUndefined();
    expect(job.options).toEqual({
      onConflict: 'fail',
      dbs: {},
      include: [],
      exclude: [],
      types: [],
      ttl: { keep: true, extendMs: 0 },
      bigKey: { bytes: 8 * 1024 * 1024, elements: 10000 },
      latencyBudgetMs: 2,
      maxKeysPerSec: 0,
      maxBytesPerSec: 0,
      acceptLoss: [],
      parallel: { sources: 4, staging: 4 },
      keepStaging: false,
    });
  });

  it('fills in defaults inside partly given option blocks', () => {
    const { job } = parse(`${MINIMAL}options: { ttl: { extendMs: 500 }, bigKey: { bytes: 1.5mb }, parallel: { staging: 2 } }\n`);
    expect(job.options.ttl).toEqual({ keep: true, extendMs: 500 });
    expect(job.options.bigKey).toEqual({ bytes: 1572864, elements: 10000 });
    expect(job.options.parallel).toEqual({ sources: 4, staging: 2 });
  });

  it('takes a number for parallel as the number of sources', () => {
    const { job } = parse(`${MINIMAL}options: { parallel: 8 }\n`);
    expect(job.options.parallel).toEqual({ sources: 8, staging: 4 });
  });

  it('expands ${env:…} in the middle of a string and several in one string', () => {
    const text = `name: t
sources:
  - { name: a, url: "redis://\${env:USER_X}:\${env:PASS_X}@\${env:HOST_X}:6379/2" }
target: { url: "redis://h:6379" }
options: { include: ["\${env:PREFIX_X}:*:tail"] }
`;
    const { job } = parse(text, { USER_X: 'ops', PASS_X: 'p4ss', HOST_X: '10.1.2.3', PREFIX_X: 'user' });
    expect(job.sources[0]!.url).toBe('redis://ops:p4ss@10.1.2.3:6379/2');
    expect(job.options.include).toEqual(['user:*:tail']);
  });

  it('does not expand references inside substituted values', () => {
    const { job } = parse(`${MINIMAL}options: { include: ["\${env:A_X}"] }\n`, { A_X: '${env:B_X}' });
    expect(job.options.include).toEqual(['${env:B_X}']);
  });

  it('uses resolveSecret for ${secret:…}', () => {
    const text = MINIMAL.replace('redis://127.0.0.1:6390', 'rediss://app:${secret:TGT}@h:6379');
    const { job } = parseJobText(text, { baseDir: '/', resolveSecret: (n) => (n === 'TGT' ? 's3' : undefined) });
    expect(job.target.url).toBe('rediss://app:s3@h:6379');
  });

  it('reports a failed reference once, not again as a bad url', () => {
    const text = MINIMAL.replace('redis://127.0.0.1:6390', `redis://:\${env:${UNSET_ENV_VAR}}@h:6379`);
    const err = problemsOf(() => parse(text));
    expect(err.problems).toHaveLength(1);
    expect(err.problems[0]!.path).toBe('target.url');
  });

  it('resolves identityFile and knownHosts against baseDir', () => {
    const text = `name: t
tunnels:
  idc: { host: b, identityFile: keys/id, knownHosts: ~/kh }
sources:
  - { name: a, url: "redis://h:6379", via: idc }
target: { url: "redis://h:6379" }
`;
    const { job } = parseJobText(text, { baseDir: '/srv/jobs' });
    expect(job.tunnels?.idc?.identityFile).toBe(path.resolve('/srv/jobs/keys/id'));
    expect(job.tunnels?.idc?.knownHosts).toBe(path.join(os.homedir(), 'kh'));
  });

  it('accepts redis urls with a db, IPv6 hosts and TLS options', () => {
    for (const url of [
      'redis://h',
      'redis://h:6379/',
      'redis://h:6379/15',
      'redis://user:p%40ss@[::1]:7000/0',
      'rediss://h:6380?servername=x&insecure=true',
    ]) {
      expect(validateJob({ name: 't', sources: [{ name: 'a', url }], target: { url } }).ok, url).toBe(true);
    }
  });
});

describe('parseSize', () => {
  it.each([
    [0, 0],
    [100, 100],
    ['100', 100],
    ['100b', 100],
    ['512kb', 512 * 1024],
    ['512KB', 512 * 1024],
    ['8mb', 8 * 1024 ** 2],
    ['8 MiB', 8 * 1024 ** 2],
    ['1.5mb', 1.5 * 1024 ** 2],
    ['1gb', 1024 ** 3],
    ['2k', 2048],
  ] as const)('%s -> %d', (input, bytes) => expect(parseSize(input)).toBe(bytes));

  it.each([['8 potatoes'], [''], ['mb'], ['-1kb'], ['1e3'], [-1], [1.5], [Number.NaN]] as const)(
    'refuses %s',
    (input) => expect(() => parseSize(input)).toThrow(RangeError),
  );
});

describe('redactUrl', () => {
  it.each([
    ['redis://:pw@h:6379', 'redis://:***@h:6379'],
    ['rediss://app:pw@h:6379/0', 'rediss://app:***@h:6379/0'],
    ['redis://h:6379', 'redis://h:6379'],
    ['redis://user@h', 'redis://user@h'],
    ['redis://:pa/ss#x@h:6379', 'redis://:***@h:6379'],
    ['redis://:p@ss@h', 'redis://:***@h'],
    ['user:pw@h', 'user:***@h'],
    ['http://x', 'http://x'],
    ['not a url', 'not a url'],
  ])('%s -> %s', (input, output) => expect(redactUrl(input)).toBe(output));
});

describe('formatPath', () => {
  it.each([
    [[], ''],
    [['sources', 2, 'url'], 'sources[2].url'],
    [['options', 'ttl', 'extendMs'], 'options.ttl.extendMs'],
    [['tunnels', 'idc', 'port'], 'tunnels.idc.port'],
    [['tunnels', 'my tunnel', 'port'], 'tunnels."my tunnel".port'],
    [['options', 'dbs', '1'], 'options.dbs."1"'],
    [['options', 'dbs', 'x'], 'options.dbs."x"'],
  ] as const)('%j -> %s', (segments, text) => expect(formatPath(segments)).toBe(text));
});

describe('JobSchema', () => {
  it('is strict at every level', () => {
    const base = { name: 't', sources: [{ name: 'a', url: 'redis://h' }], target: { url: 'redis://h' } };
    expect(JobSchema.safeParse(base).success).toBe(true);
    expect(JobSchema.safeParse({ ...base, extra: 1 }).success).toBe(false);
    expect(JobSchema.safeParse({ ...base, target: { url: 'redis://h', extra: 1 } }).success).toBe(false);
    expect(JobSchema.safeParse({ ...base, options: { ttl: { keep: true, extra: 1 } } }).success).toBe(false);
  });
});
