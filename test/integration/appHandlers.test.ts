// The host's calls as both doors reach them: through the dispatcher, against real redis-servers.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppEvent, type CallName, type CallOutput, type Envelope } from '../../shared/api.js';
import { createDispatcher } from '../../main/app/dispatch.js';
import { createHandlers, type HostHandlers } from '../../main/app/handlers.js';
import { MemorySecretStore } from '../../main/app/secrets.js';
import { TunnelError } from '../../main/engine/tunnels/sshTunnel.js';
import { connectTo, sendAll } from '../support/dataset.js';
import { freePort, startRedis, type RedisServer } from '../support/redisServers.js';

const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-app-'));
const servers: RedisServer[] = [];
const events: AppEvent[] = [];
const secrets = new MemorySecretStore();
let handlers: HostHandlers;
let dispatcher: ReturnType<typeof createDispatcher>;
let nextId = 0;

async function server(opts: { password?: string; args?: string[] } = {}): Promise<RedisServer> {
  const s = await startRedis(opts);
  servers.push(s);
  return s;
}

/** `count` string keys `key:N` in db 0. */
async function fill(s: RedisServer, count: number, password?: string): Promise<void> {
  const conn = await connectTo(s.port, 0, password);
  await sendAll(conn, Array.from({ length: count }, (_, i) => ['SET', `key:${i}`, `value-${i}`]));
  conn.close();
}

function jobYaml(name: string, sources: Array<{ name: string; url: string }>, target: { url: string }, options = ''): string {
  return [`name: ${name}`, 'sources:', ...sources.map((s) => `  - { name: ${s.name}, url: "${s.url}" }`), `target: { url: "${target.url}" }`, options && `options: ${options}`, ''].join('\n');
}

function call(name: string, input: unknown, id = `call-${++nextId}`): Promise<Envelope> {
  return dispatcher.call(id, name, input);
}

/** The call's value; fails the test with the error message when it did not succeed. */
async function value<K extends CallName>(name: K, input: unknown): Promise<CallOutput<K>> {
  const envelope = await call(name, input);
  if (!envelope.ok) throw new Error(`${name} failed (${envelope.error.code}): ${envelope.error.message}`);
  return envelope.value as CallOutput<K>;
}

async function error(name: string, input: unknown): Promise<{ code: string; message: string }> {
  const envelope = await call(name, input);
  if (envelope.ok) throw new Error(`${name} succeeded, expected an error`);
  return envelope.error;
}

async function dbsize(s: RedisServer): Promise<number> {
  return Number(await s.cli('DBSIZE'));
}

let source: RedisServer;
let target: RedisServer;
let smallJob: string;

beforeAll(async () => {
  handlers = createHandlers({ secrets, workDir: work, version: '9.9.9-test', emit: (e) => events.push(e) });
  dispatcher = createDispatcher(handlers);
  [source, target] = await Promise.all([server(), server()]);
  await fill(source, 300);
  smallJob = jobYaml('small', [{ name: 'legacy', url: source.url }], target);
});

afterAll(async () => {
  await handlers?.shutdown();
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true });
});

describe('calls and their checks', () => {
  it('app.info says what the host offers', async () => {
    expect(await value('app.info', {})).toEqual({ version: '9.9.9-test', keychain: 'none', workDir: work });
  });

  it('job.validate returns every problem of a bad job, and ok for a good one', async () => {
    const bad = await value('job.validate', { yaml: 'name: "bad name!"\nsources: []\ntarget: { url: "http://x" }\n' });
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.path).sort()).toEqual(['name', 'sources', 'target.url']);
    expect(await value('job.validate', { yaml: 'sources: [' })).toMatchObject({ ok: false, problems: [{ path: '', message: expect.stringContaining('line') }] });
    expect(await value('job.validate', { yaml: smallJob })).toEqual({ ok: true, problems: [] });
    // Accepted by the schema, but not runnable by this version: a problem too.
    const tlsStaged = await value('job.validate', { yaml: `name: r\nsources: [{ name: s, url: "rediss://127.0.0.1:1", stage: replica }]\ntarget: { url: "${target.url}" }\n` });
    expect(tlsStaged).toEqual({ ok: false, problems: [{ path: 'sources[0].stage', message: expect.stringContaining('not supported') }] });
  });

  it('a wrong input type is bad-input naming the field', async () => {
    const err = await error('plan.run', { yaml: 42, sample: null });
    expect(err.code).toBe('bad-input');
    expect(err.message).toMatch(/plan\.run: yaml: .*expected string/);
    expect(await error('plan.run', { yaml: smallJob, sample: -1 })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('sample') });
    expect(await error('secret.set', { name: 'not a name', value: 'x' })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('name') });
  });

  it('an unknown call name is bad-input', async () => {
    expect(await error('run.explode', {})).toMatchObject({ code: 'bad-input', message: expect.stringContaining('unknown call "run.explode"') });
    expect(await error('__proto__', {})).toMatchObject({ code: 'bad-input' });
  });
});

describe('runs', () => {
  it('run.start returns at once; its events carry op = runId; run.wait gives the summary', async () => {
    const { runId } = await value('run.start', { yaml: smallJob, resume: false });
    // One run per job at a time.
    expect(await error('run.start', { yaml: smallJob, resume: false })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('already running') });
    const summary = await value('run.wait', { runId });
    expect(summary).toMatchObject({ runId, outcome: 'done', counts: { scanned: 300, written: 300, errors: 0 } });
    expect(summary.perSource.legacy?.written).toBe(300);
    expect(await dbsize(target)).toBe(300);
    const mine = events.filter((e) => e.op === runId);
    expect(mine.every((e) => e.kind === 'run')).toBe(true);
    expect(mine.map((e) => e.event.type)).toEqual(expect.arrayContaining(['run-started', 'run-finished']));
    for (const e of mine) AppEvent.parse(e);
    // Its state lives under the work dir.
    expect(fs.existsSync(path.join(work, 'state', 'small', 'checkpoint.json'))).toBe(true);
  });

  it('verify.run finds no differences; its events carry the call id', async () => {
    const envelope = await call('verify.run', { yaml: smallJob }, 'verify-1');
    expect(envelope).toMatchObject({ ok: true, value: { compared: 300, equal: 300, differences: { missing: 0, type: 0, value: 0, ttl: 0 } } });
    const mine = events.filter((e) => e.op === 'verify-1');
    expect(mine.length).toBeGreaterThan(0);
    expect(mine.every((e) => e.kind === 'verify')).toBe(true);
    expect(mine.map((e) => e.event.type)).toContain('verify-finished');
  });

  it('cancelling a verify gives cancelled', async () => {
    const pending = call('verify.run', { yaml: smallJob }, 'verify-2');
    dispatcher.cancel('verify-2');
    expect(await pending).toEqual({ ok: false, error: { code: 'cancelled', message: 'cancelled' } });
  });

  it('endpoint.watch sends the endpoint\'s latency every second until the call is cancelled', async () => {
    const pending = call('endpoint.watch', { yaml: smallJob, endpoint: 'target' }, 'watch-1');
    const deadline = Date.now() + 10_000;
    const seconds = () => events.filter((e) => e.op === 'watch-1' && e.event.type === 'latency');
    while (seconds().length < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(seconds().length).toBeGreaterThanOrEqual(2);
    for (const e of seconds()) {
      expect(e.kind).toBe('endpoint');
      expect(e.event.type === 'latency' && e.event.endpoint).toBe('target');
      expect(e.event.type === 'latency' && e.event.calls).toBeGreaterThan(0);
    }
    dispatcher.cancel('watch-1');
    // Cancelling is how a watch ends: it resolves, it does not fail.
    expect(await pending).toEqual({ ok: true, value: {} });
    // Stopped: no more seconds arrive.
    const after = seconds().length;
    await new Promise((r) => setTimeout(r, 1500));
    expect(seconds().length).toBe(after);
  });

  it('plan.run returns the plan document', async () => {
    const plan = await value('plan.run', { yaml: smallJob, sample: null });
    expect(plan).toMatchObject({ version: 1, job: 'small', sample: null });
    expect(plan.endpoints.map((e) => [e.role, e.reachable])).toEqual([['target', true], ['source', true]]);
    expect(plan.totals.keys).toBe(300);
  });

  it('endpoint.test reports the facts of one endpoint; an unknown endpoint is bad-input', async () => {
    const facts = await value('endpoint.test', { yaml: smallJob, endpoint: 'legacy' });
    expect(facts).toMatchObject({ role: 'source', name: 'legacy', reachable: true, address: `127.0.0.1:${source.port}`, mode: 'standalone' });
    expect(facts.keyspace).toEqual([expect.objectContaining({ db: 0, keys: 300 })]);
    expect(await error('endpoint.test', { yaml: smallJob, endpoint: 'nowhere' })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('target or a source name (legacy)') });
  });

  it('pause stops a run with its checkpoint; resume finishes it as a new run', async () => {
    const [slowSource, slowTarget] = await Promise.all([server(), server()]);
    await fill(slowSource, 800);
    // 400 keys a second: paused after ~0.3 s, well before the end (2 s).
    const yaml = jobYaml('slow', [{ name: 'legacy', url: slowSource.url }], slowTarget, '{ maxKeysPerSec: 400 }');
    const { runId } = await value('run.start', { yaml, resume: false });
    // Giving up waiting leaves the run going.
    const waiting = call('run.wait', { runId }, 'wait-1');
    dispatcher.cancel('wait-1');
    expect(await waiting).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    await waitFor(async () => (await dbsize(slowTarget)) >= 100);
    expect(await value('run.pause', { runId })).toEqual({});
    const paused = await value('run.wait', { runId });
    expect(paused.outcome).toBe('stopped');
    expect(paused.counts.written).toBeLessThan(800);

    const resumed = await value('run.resume', { runId });
    expect(resumed.runId).not.toBe(runId);
    const finished = await value('run.wait', { runId: resumed.runId });
    expect(finished.outcome).toBe('done');
    expect(await dbsize(slowTarget)).toBe(800);
    expect(events.some((e) => e.op === resumed.runId && e.event.type === 'run-started' && e.event.resumed)).toBe(true);
    // A finished run has nothing to resume.
    expect(await error('run.resume', { runId: resumed.runId })).toMatchObject({ code: 'bad-input' });

    // Cancel: stopped, then forgotten.
    await slowTarget.cli('FLUSHALL');
    const again = await value('run.start', { yaml, resume: false });
    await waitFor(async () => (await dbsize(slowTarget)) >= 50);
    expect(await value('run.cancel', { runId: again.runId })).toEqual({});
    expect(await error('run.wait', { runId: again.runId })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('no run') });
    expect(await error('run.resume', { runId: again.runId })).toMatchObject({ code: 'bad-input' });
    // Its checkpoint stays: a resume by job text goes on from it.
    const fromCheckpoint = await value('run.start', { yaml, resume: true });
    expect(await value('run.wait', { runId: fromCheckpoint.runId })).toMatchObject({ outcome: 'done' });
    expect(await dbsize(slowTarget)).toBe(800);
  });

  it('a run that cannot connect ends failed, saying which endpoint', async () => {
    const closedPort = await freePort();
    const yaml = jobYaml('unreachable', [{ name: 'legacy', url: source.url }], { url: `redis://127.0.0.1:${closedPort}` });
    const { runId } = await value('run.start', { yaml, resume: false });
    const summary = await value('run.wait', { runId });
    expect(summary).toMatchObject({ runId, outcome: 'failed', message: expect.stringContaining(`127.0.0.1:${closedPort}`) });
    expect(events.filter((e) => e.op === runId).map((e) => e.event)).toContainEqual(expect.objectContaining({ type: 'run-finished', outcome: 'failed' }));
  });

  it('resume without a checkpoint is bad-input from run.start itself', async () => {
    const other = jobYaml('never-ran', [{ name: 'legacy', url: source.url }], target);
    expect(await error('run.start', { yaml: other, resume: true })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('no checkpoint') });
  });
});

describe('live runs and the cut-over', () => {
  type LiveEvent = Extract<AppEvent['event'], { type: 'live' }>;
  const liveOf = (runId: string): LiveEvent[] => events.flatMap((e) => (e.op === runId && e.kind === 'run' && e.event.type === 'live' ? [e.event] : []));
  /** A source that starts a replica's full sync at once (no diskless delay). */
  const liveSource = () => server({ args: ['--repl-diskless-sync-delay', '0'] });
  /** Resolves once every node of the live run has said it streams with nothing left to apply. */
  const caughtUp = (runId: string) => waitFor(async () => liveOf(runId).some((e) => e.phase === 'streaming' && e.lagBytes === 0), 30_000);

  it('run.start live follows the source; run.cutover waits for lag 0, verifies (kind verify, op = its call id) and says safe', async () => {
    const [src, tgt] = await Promise.all([liveSource(), server()]);
    await fill(src, 200);
    const yaml = jobYaml('live-safe', [{ name: 'app', url: src.url }], tgt);
    const { runId } = await value('run.start', { yaml, resume: false, live: true });
    // One run per job, live or not.
    expect(await error('run.start', { yaml, resume: false, live: true })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('already running') });
    await caughtUp(runId);
    expect(liveOf(runId)[0]).toMatchObject({ source: 'app', node: `127.0.0.1:${src.port}` });
    expect(liveOf(runId).some((e) => e.resync === 'full')).toBe(true);
    expect(events.some((e) => e.op === runId && e.event.type === 'source-stage' && e.event.stage === 'live')).toBe(true);

    // Written while live: applied from the stream, then verified by the cut-over.
    for (let i = 0; i < 50; i++) await src.cli('SET', `during:${i}`, `d${i}`);
    await src.cli('DEL', 'key:7');
    const envelope = await call('run.cutover', { runId, timeoutMs: 60_000 }, 'cutover-1');
    if (!envelope.ok) throw new Error(`run.cutover failed: ${envelope.error.message}`);
    const verdict = envelope.value as CallOutput<'run.cutover'>;
    expect(verdict).toMatchObject({ safe: true, reason: null, verify: { compared: 249, equal: 249, differences: { missing: 0, type: 0, value: 0, ttl: 0 } } });
    expect(verdict.nodes).toEqual([expect.objectContaining({ source: 'app', phase: 'streaming', lagBytes: 0 })]);
    expect(await tgt.cli('GET', 'during:49')).toBe('d49');
    expect(await tgt.cli('EXISTS', 'key:7')).toBe('0');
    const verifyEvents = events.filter((e) => e.op === 'cutover-1');
    expect(verifyEvents.length).toBeGreaterThan(0);
    expect(verifyEvents.every((e) => e.kind === 'verify')).toBe(true);
    expect(verifyEvents.map((e) => e.event.type)).toEqual(expect.arrayContaining(['verify-progress', 'verify-finished']));
    for (const e of verifyEvents) AppEvent.parse(e);

    // The live run goes on after the verdict; pause stops it with its offsets kept.
    expect(await value('run.pause', { runId })).toEqual({});
    expect(await value('run.wait', { runId })).toMatchObject({ runId, outcome: 'stopped' });
    expect(await error('run.cutover', { runId })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('not running') });
    // Written while nothing follows the source: its backlog holds it for the resume.
    for (let i = 0; i < 20; i++) await src.cli('SET', `paused:${i}`, `p${i}`);
    const resumed = await value('run.resume', { runId });
    expect(resumed.runId).not.toBe(runId);
    await caughtUp(resumed.runId);
    expect(liveOf(resumed.runId).some((e) => e.resync === 'partial')).toBe(true);
    expect(liveOf(resumed.runId).some((e) => e.resync === 'full')).toBe(false);
    await waitFor(async () => (await tgt.cli('GET', 'paused:19')) === 'p19');
    expect(await value('run.cancel', { runId: resumed.runId })).toEqual({});
    // A live run starts again from its offsets with run.start resume + live (after a restart, say).
    const again = await value('run.start', { yaml, resume: true, live: true });
    await caughtUp(again.runId);
    expect(liveOf(again.runId).some((e) => e.resync === 'partial')).toBe(true);
    expect(await value('run.cancel', { runId: again.runId })).toEqual({});
  }, 90_000);

  it('a target key changed behind live sync: NOT safe, with the reason and the difference; a cut-over can be cancelled', async () => {
    const [src, tgt] = await Promise.all([liveSource(), server()]);
    await fill(src, 100);
    const yaml = jobYaml('live-unsafe', [{ name: 'app', url: src.url }], tgt);
    const { runId } = await value('run.start', { yaml, resume: false, live: true });
    await caughtUp(runId);

    // Cancelled while it waits (it always waits a full status tick): cancelled, and the run goes on.
    const pending = call('run.cutover', { runId }, 'cutover-cancelled');
    await new Promise((r) => setTimeout(r, 200));
    dispatcher.cancel('cutover-cancelled');
    expect(await pending).toEqual({ ok: false, error: { code: 'cancelled', message: 'cancelled' } });

    await tgt.cli('SET', 'key:3', 'changed on the target');
    const verdict = await value('run.cutover', { runId, timeoutMs: 60_000 });
    expect(verdict.safe).toBe(false);
    expect(verdict.reason).toContain('1 difference');
    expect(verdict.verify).toMatchObject({ compared: 100, differences: { value: 1 } });
    expect(verdict.verify?.firstDifferences).toEqual([expect.objectContaining({ source: 'app', keyHex: Buffer.from('key:3').toString('hex'), kind: 'value' })]);
    // Still live: a key written now still arrives.
    await src.cli('SET', 'after', 'verdict');
    await waitFor(async () => (await tgt.cli('GET', 'after')) === 'verdict');
    expect(await value('run.cancel', { runId })).toEqual({});
  }, 90_000);

  it('refused as asked: cut-over of an unknown or non-live run, a bad timeout, live with an RDB file, live resume without offsets', async () => {
    expect(await error('run.cutover', { runId: 'run-nope' })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('no run run-nope') });
    const closedPort = await freePort();
    const { runId } = await value('run.start', { yaml: jobYaml('not-live', [{ name: 'legacy', url: source.url }], { url: `redis://127.0.0.1:${closedPort}` }), resume: false });
    expect(await error('run.cutover', { runId })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('not a live run') });
    await value('run.wait', { runId });
    expect(await error('run.cutover', { runId, timeoutMs: 0 })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('timeoutMs') });
    expect(await error('run.start', { yaml: smallJob, resume: false, live: 'yes' })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('live') });
    const rdbJob = `name: live-file\nsources:\n  - { name: dump, rdb: ./dump.rdb }\ntarget: { url: "${target.url}" }\n`;
    expect(await error('run.start', { yaml: rdbJob, resume: false, live: true })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('sources[0].rdb') });
    const fresh = jobYaml('live-never-ran', [{ name: 'legacy', url: source.url }], target);
    expect(await error('run.start', { yaml: fresh, resume: true, live: true })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('no live checkpoint') });
  });
});

describe('secrets and job files', () => {
  it('secret.set keeps a secret; secret.list names it and never shows its value', async () => {
    expect(await value('secret.set', { name: 'PW', value: 's3cr3t-value' })).toEqual({ keychain: 'none' });
    const listed = await value('secret.list', {});
    expect(listed.names).toContain('PW');
    expect(JSON.stringify(listed)).not.toContain('s3cr3t-value');
  });

  it('job.save refuses a literal password and accepts ${secret:…}; job.open reads it back', async () => {
    const file = path.join(work, 'jobs', 'idc.yaml');
    const withTunnel = (password: string) =>
      [`name: idc`, 'tunnels:', `  idc: { host: bastion.example, user: ops, password: ${password} }`, 'sources:', `  - { name: a, url: "redis://127.0.0.1:6379", via: idc }`, `target: { url: "${target.url}" }`, ''].join('\n');
    const literal = await error('job.save', { path: file, yaml: withTunnel('hunter2') });
    expect(literal.code).toBe('bad-input');
    expect(literal.message).toContain('tunnels.idc.password');
    expect(literal.message).not.toContain('hunter2');
    const inUrl = await error('job.save', { path: file, yaml: jobYaml('u', [{ name: 'a', url: 'redis://default:hunter2@127.0.0.1:6379' }], target) });
    expect(inUrl).toMatchObject({ code: 'bad-input', message: expect.stringContaining('sources[0].url') });
    expect(fs.existsSync(file)).toBe(false);

    const good = withTunnel('"${secret:PW}"');
    expect(await value('job.save', { path: file, yaml: good })).toEqual({ path: file });
    expect(await value('job.open', { path: file })).toEqual({ path: file, yaml: good });
    // Relative paths are under the work dir.
    expect(await value('job.open', { path: 'jobs/idc.yaml' })).toEqual({ path: file, yaml: good });
    const urlRef = jobYaml('u', [{ name: 'a', url: 'redis://default:${secret:PW}@127.0.0.1:6379' }], target);
    expect(await value('job.save', { path: 'u.yml', yaml: urlRef })).toEqual({ path: path.join(work, 'u.yml') });

    expect(await error('job.save', { path: path.join(work, 'notes.txt'), yaml: good })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('.yaml or .yml') });
    expect(await error('job.open', { path: path.join(work, 'missing.yaml') })).toMatchObject({ code: 'bad-input', message: expect.stringContaining('ENOENT') });
  });

  it('a job naming ${secret:…} runs once the secret is set', async () => {
    const [locked, lockedTarget] = await Promise.all([server({ password: 'src-pass-42' }), server()]);
    await fill(locked, 50, 'src-pass-42');
    const yaml = jobYaml('locked', [{ name: 'vault', url: `redis://:\${secret:SRC_PW}@127.0.0.1:${locked.port}` }], lockedTarget);
    const missing = await error('run.start', { yaml, resume: false });
    expect(missing).toMatchObject({ code: 'bad-input', message: expect.stringContaining('secret SRC_PW is not set') });
    await value('secret.set', { name: 'SRC_PW', value: 'src-pass-42' });
    const { runId } = await value('run.start', { yaml, resume: false });
    expect(await value('run.wait', { runId })).toMatchObject({ outcome: 'done', counts: { written: 50 } });
    expect(await dbsize(lockedTarget)).toBe(50);
    // The secret's value shows in no event.
    expect(JSON.stringify(events.filter((e) => e.op === runId))).not.toContain('src-pass-42');
  });
});

describe('sandbox', () => {
  it('sandbox.start starts it once and returns its job; sandbox.stop removes it', async () => {
    const [first, second] = await Promise.all([value('sandbox.start', {}), value('sandbox.start', {})]);
    expect(second).toEqual(first);
    expect(first.path.startsWith(path.join(work, 'sandbox') + path.sep)).toBe(true);
    expect(first.yaml).toBe(fs.readFileSync(first.path, 'utf8'));
    expect(await value('job.validate', { yaml: first.yaml })).toEqual({ ok: true, problems: [] });
    expect(await value('sandbox.stop', {})).toEqual({});
    expect(fs.existsSync(first.path)).toBe(false);
    expect(await value('sandbox.stop', {})).toEqual({});
  });
});

describe('the dispatcher maps every failure to an envelope', () => {
  const fake = (overrides: Partial<HostHandlers>) => createDispatcher({ ...handlers, ...overrides });

  it('an unexpected error: failed, its message only; an output off the contract: failed', async () => {
    const boom = fake({
      'app.info': async () => {
        throw new Error('disk on fire');
      },
    });
    expect(await boom.call('1', 'app.info', {})).toEqual({ ok: false, error: { code: 'failed', message: 'disk on fire' } });
    const wrong = fake({ 'app.info': async () => ({ version: 1 }) as never });
    expect(await wrong.call('1', 'app.info', {})).toMatchObject({ ok: false, error: { code: 'failed', message: expect.stringContaining('invalid result for app.info') } });
  });

  it('an unknown host key: unknown-host-key; a call id in use: bad-input', async () => {
    let release = () => {};
    const d = fake({
      'sandbox.stop': () => new Promise((resolve) => (release = () => resolve({}))),
      'app.info': async () => {
        throw new TunnelError('idc', 'tunnel idc: host key of bastion is not known', true, true);
      },
    });
    expect(await d.call('1', 'app.info', {})).toEqual({ ok: false, error: { code: 'unknown-host-key', message: 'tunnel idc: host key of bastion is not known' } });
    const first = d.call('same', 'sandbox.stop', {});
    expect(await d.call('same', 'sandbox.stop', {})).toMatchObject({ ok: false, error: { code: 'bad-input' } });
    release();
    expect(await first).toEqual({ ok: true, value: {} });
  });
});

async function waitFor(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 25));
  }
}
