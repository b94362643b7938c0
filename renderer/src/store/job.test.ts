import { describe, expect, it } from 'vitest';
import { JobProblem } from '../../../shared/api.js';
import { createFerryStore } from './store.js';
import { withField, withHostProblems, withYaml, initialJob, withItem } from './jobSlice.js';
import { dbsFromText, listFromText, literalUrlPassword, numberOrText, secretName, withUrlPassword, endpointNames } from './jobModel.js';

const YAML = `# the IDC exit
name: idc-exit
tunnels:
  idc: { host: bastion.idc.example, user: ops }
sources:
  - { name: idc-01, url: "redis://10.0.0.11:6379", via: idc, stage: replica } # the big one
  - name: idc-02
    url: redis://10.0.0.12:6379/3
target: { url: "rediss://app@master.example.cache:6379", cluster: true }
options:
  onConflict: skip
`;

describe('job slice', () => {
  it('reads the YAML into the draft the forms show', () => {
    const job = withYaml(initialJob(), YAML);
    expect(job.syntaxError).toBeNull();
    expect(job.draft.name).toBe('idc-exit');
    expect(endpointNames(job.draft)).toEqual(['idc-01', 'idc-02', 'target']);
    expect(job.problems).toEqual([]);
    expect(job.dirty).toBe(true);
  });

  it('a form edit changes only that field of the YAML, keeping comments', () => {
    let job = withYaml(initialJob(), YAML);
    job = withField(job, ['sources', 1, 'url'], 'redis://10.0.0.13:6379');
    job = withField(job, ['options', 'include'], ['user:*', 'session:*']);
    job = withField(job, ['target', 'cluster'], undefined);
    expect(job.yaml).toContain('# the IDC exit');
    expect(job.yaml).toContain('# the big one');
    expect(job.yaml).toContain('url: redis://10.0.0.13:6379');
    expect(job.yaml).not.toContain('cluster');
    expect(job.draft.options).toMatchObject({ onConflict: 'skip', include: ['user:*', 'session:*'] });
    job = withItem(job, ['sources'], { name: 'idc-03', url: 'redis://10.0.0.14:6379' });
    expect(endpointNames(job.draft)).toEqual(['idc-01', 'idc-02', 'idc-03', 'target']);
  });

  it('a YAML syntax error is a problem, keeps the last good draft and turns the forms off', () => {
    const good = withYaml(initialJob(), YAML);
    const broken = withYaml(good, 'name: [x\nsources: 3');
    expect(broken.syntaxError).toBeTruthy();
    expect(broken.draft).toBe(good.draft);
    expect(broken.problems[0]!.path).toBe('');
    expect(withField(broken, ['name'], 'y')).toBe(broken);
  });

  it('lists the local problems by path, as the CLI does', () => {
    const job = withYaml(initialJob(), 'name: "bad name"\nsources: []\ntarget: { url: "http://x" }\noptions: { parallel: 0 }\n');
    const paths = job.problems.map((p) => p.path);
    expect(paths).toContain('name');
    expect(paths).toContain('sources');
    expect(paths).toContain('target.url');
    expect(paths).toContain('options.parallel');
    expect(job.problemsFrom).toBe('local');
  });

  it('secret and env references pass the local check', () => {
    const job = withYaml(initialJob(), 'name: j\nsources: [{ name: a, url: "redis://:${secret:A_PASS}@10.0.0.1:6379" }]\ntarget: { url: "redis://${env:TGT_HOST}:6379" }\n');
    expect(job.problems).toEqual([]);
  });

  it("job.validate's problems replace the local ones, for the text they were about", () => {
    const job = withYaml(initialJob(), YAML);
    const problems = [JobProblem.parse({ path: 'sources[0].url', message: 'environment variable IDC_PASS is not set' })];
    const validated = withHostProblems(job, job.yaml, problems);
    expect(validated.problems).toEqual(problems);
    expect(validated.problemsFrom).toBe('host');
    // An answer about an older text is dropped.
    const edited = withYaml(job, `${YAML}\n# more`);
    expect(withHostProblems(edited, job.yaml, problems)).toBe(edited);
    // Editing after validation goes back to the local check.
    expect(withYaml(validated, `${YAML}\n# more`).problemsFrom).toBe('local');
  });

  it('the store holds the job and starts with a usable one', () => {
    const store = createFerryStore();
    expect(store.getState().job.draft.name).toBe('my-job');
    expect(store.getState().job.problems).toEqual([]);
  });
});

describe('job model helpers', () => {
  it('numbers, lists and db maps from form text', () => {
    expect(numberOrText('')).toBeUndefined();
    expect(numberOrText('22')).toBe(22);
    expect(numberOrText('1.')).toBe('1.');
    expect(numberOrText('8mb')).toBe('8mb');
    expect(listFromText('user:*, session:*,')).toEqual(['user:*', 'session:*']);
    expect(listFromText(' ')).toBeUndefined();
    expect(dbsFromText('0:0, 3: 1')).toEqual({ '0': 0, '3': 1 });
  });

  it('passwords: found in URLs and replaced by secret references', () => {
    expect(literalUrlPassword('redis://:s3cr%40t@h:6379')).toBe('s3cr@t');
    expect(literalUrlPassword('redis://app:${secret:X}@h:6379')).toBeNull();
    expect(literalUrlPassword('redis://h:6379')).toBeNull();
    expect(withUrlPassword('redis://app:pw@h:6379/2', '${secret:P}')).toBe('redis://app:${secret:P}@h:6379/2');
    expect(withUrlPassword('redis://h:6379', '${secret:P}')).toBe('redis://:${secret:P}@h:6379');
    expect(withUrlPassword('rediss://app@h:6379', '${secret:P}')).toBe('rediss://app:${secret:P}@h:6379');
    expect(secretName('idc-01 password')).toBe('IDC_01_PASSWORD');
    expect(secretName('1st')).toBe('_1ST');
  });
});

describe('watching an endpoint', () => {
  it('keeps the last 60 seconds of a watched endpoint, merges a cluster\'s nodes per second, ignores the rest', async () => {
    const { app, ev, T0 } = await import('./eventFixtures.js');
    const { watchStarted, watchStopped, WATCH_SECONDS } = await import('./jobSlice.js');
    const store = createFerryStore();
    const s = store.getState();
    // Not watched: nothing kept.
    s.applyEvent(app('endpoint', 'w-1', ev.latency('target', '127.0.0.1:7000', T0, { p99: 1 })));
    expect(store.getState().job.watching).toEqual({});
    store.setState((st) => ({ job: watchStarted(st.job, 'target') }));
    // Two nodes in one second: one point, the worst of them.
    s.applyEvent(app('endpoint', 'w-1', ev.latency('target', '127.0.0.1:7000', T0, { p50: 0.2, p99: 1, max: 2 })));
    s.applyEvent(app('endpoint', 'w-1', ev.latency('target', '127.0.0.1:7001', T0 + 10, { p50: 0.1, p99: 3, max: 4 })));
    expect(store.getState().job.watching.target).toEqual([{ at: T0, p50Ms: 0.2, p99Ms: 3, maxMs: 4 }]);
    for (let i = 1; i <= 100; i++) s.applyEvent(app('endpoint', 'w-1', ev.latency('target', '127.0.0.1:7000', T0 + i * 1000, { p99: i })));
    const points = store.getState().job.watching.target!;
    expect(points).toHaveLength(WATCH_SECONDS);
    expect(points.at(-1)!.p99Ms).toBe(100);
    // A run's latency does not land here, and stopping forgets the points.
    s.applyEvent(app('run', 'run-1', ev.latency('source-1', '127.0.0.1:7002', T0, { p99: 9 })));
    expect(Object.keys(store.getState().job.watching)).toEqual(['target']);
    store.setState((st) => ({ job: watchStopped(st.job, 'target') }));
    expect(store.getState().job.watching).toEqual({});
  });
});
