// `ferry run` / `ferry verify` against endpoints that cannot be used: nothing listening, wrong or
// missing password, RESTORE disabled, cluster mismatches, features not built yet. Real redis-servers.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startCluster, startRedis, type RedisCluster, type RedisServer } from '../support/redisServers.js';
import { inBatches, runFerry, stackTraceLines, tmpDir, writeJob, type FerryResult } from '../support/cli.js';

const work = tmpDir('ferry-cli-endpoints-');
const servers: Array<RedisServer | RedisCluster> = [];

afterAll(async () => {
  await Promise.all(servers.map((s) => s.stop()));
  fs.rmSync(work, { recursive: true, force: true });
});

async function server(opts: Parameters<typeof startRedis>[0] = {}): Promise<RedisServer> {
  const s = await startRedis(opts);
  servers.push(s);
  return s;
}

let jobCount = 0;
/** Writes a job in its own directory and runs `ferry <command>` on it with its own state dir. */
async function ferry(command: 'run' | 'verify', yaml: string, opts: { env?: Record<string, string>; extra?: string[] } = {}): Promise<FerryResult & { stateDir: string; output: string }> {
  const dir = path.join(work, `job-${++jobCount}`);
  const file = writeJob(dir, yaml);
  const stateDir = path.join(dir, 'state');
  const r = await runFerry([command, file, '--state-dir', stateDir, ...(opts.extra ?? [])], {
    env: { ...opts.env, FERRY_STATE_DIR: stateDir },
    timeoutMs: 45_000,
  });
  return { ...r, stateDir, output: `${r.stdout}\n${r.stderr}` };
}

function job(sources: Array<{ name: string; url: string; extra?: string }>, target: string, options = ''): string {
  const lines = ['name: endpoints', 'sources:'];
  for (const s of sources) lines.push(`  - { name: ${s.name}, url: "${s.url}"${s.extra ? `, ${s.extra}` : ''} }`);
  lines.push(`target: { ${target} }`);
  if (options) lines.push(`options: ${options}`);
  return `${lines.join('\n')}\n`;
}

/** Exit `code`, no stack trace; an error before the run started comes on stderr as `ferry: …`. */
function expectCleanFailure(r: FerryResult & { output: string }, code = 1, { startup = true } = {}): void {
  expect(r.code, `exit code; output:\n${r.output}`).toBe(code);
  if (startup) expect(r.stderr).toMatch(/^ferry: /m);
  expect(stackTraceLines(r.output)).toEqual([]);
}

describe('endpoints that cannot be used', () => {
  let source: RedisServer;

  beforeAll(async () => {
    source = await server();
    await source.cli('MSET', 'a', '1', 'b', '2', 'c', '3');
    await source.cli('HSET', 'h', 'f', 'v');
  });

  it('(a) target port where nothing listens: exit 1, names the target, its address, connection refused', async () => {
    const port = await freePort();
    for (const command of ['run', 'verify'] as const) {
      const r = await ferry(command, job([{ name: 'src-a', url: source.url }], `url: "redis://127.0.0.1:${port}"`));
      expectCleanFailure(r);
      expect(r.stderr).toContain('target');
      expect(r.stderr).toContain(`127.0.0.1:${port}`);
      expect(r.stderr).toMatch(/connection refused/i);
      // Only the target failed: the source is not blamed.
      expect(r.stderr).not.toContain('src-a');
    }
  });

  it('(b) source with a wrong password: exit 1, names the source by its job name, authentication failed, no password shown', async () => {
    const secured = await server({ password: 'right-Pass-7781' });
    const target = await server();
    const wrong = 'wrong-Pass-4412';
    for (const [url, env] of [
      [`redis://:${wrong}@127.0.0.1:${secured.port}`, {}],
      [`redis://:\${env:FERRY_TEST_SRC_PASS}@127.0.0.1:${secured.port}`, { FERRY_TEST_SRC_PASS: wrong }],
      [`redis://default:${wrong}@127.0.0.1:${secured.port}`, {}],
    ] as const) {
      for (const extra of [[], ['--json']]) {
        const r = await ferry('run', job([{ name: 'legacy-01', url }], `url: "${target.url}"`), { env, extra });
        expectCleanFailure(r);
        expect(r.stderr).toContain('source legacy-01');
        expect(r.stderr).toContain(`127.0.0.1:${secured.port}`);
        expect(r.stderr).toMatch(/authentication failed/i);
        expect(r.output).not.toContain(wrong);
        expect(r.output).not.toContain('right-Pass-7781');
      }
    }
    const v = await ferry('verify', job([{ name: 'legacy-01', url: `redis://:${wrong}@127.0.0.1:${secured.port}` }], `url: "${target.url}"`));
    expectCleanFailure(v);
    expect(v.stderr).toContain('source legacy-01');
    expect(v.stderr).toMatch(/authentication failed/i);
    expect(v.output).not.toContain(wrong);
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  it('(c) source that needs a password but the URL has none: exit 1, names the source, says it requires a password', async () => {
    const secured = await server({ password: 'needed-Pass-1' });
    await secured.cli('SET', 'k', 'v');
    const target = await server();
    const r = await ferry('run', job([{ name: 'legacy-02', url: `redis://127.0.0.1:${secured.port}` }], `url: "${target.url}"`));
    expectCleanFailure(r);
    expect(r.stderr).toContain('source legacy-02');
    expect(r.stderr).toMatch(/requires a password/i);
    expect(r.output).not.toContain('needed-Pass-1');
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  it('the right password: the run succeeds and the password is in no output and no state file', async () => {
    const password = 'good-Pass-5150';
    const secured = await server({ password });
    await secured.cli('MSET', 'p1', 'a', 'p2', 'b');
    const target = await server({ password: 'tgt-Pass-6262' });
    const yaml = job(
      [{ name: 'legacy-03', url: `redis://:\${env:FERRY_TEST_SRC_PASS}@127.0.0.1:${secured.port}` }],
      `url: "redis://:\${env:FERRY_TEST_TGT_PASS}@127.0.0.1:${target.port}"`,
    );
    const env = { FERRY_TEST_SRC_PASS: password, FERRY_TEST_TGT_PASS: 'tgt-Pass-6262' };
    for (const [command, extra] of [['run', ['--json']], ['verify', ['--json']], ['verify', []]] as const) {
      const r = await ferry(command, yaml, { env, extra: [...extra] });
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toContain(password);
      expect(r.output).not.toContain('tgt-Pass-6262');
      for (const f of fs.readdirSync(r.stateDir)) {
        const text = fs.readFileSync(path.join(r.stateDir, f), 'utf8');
        expect(text, f).not.toContain(password);
        expect(text, f).not.toContain('tgt-Pass-6262');
      }
    }
    expect(await target.cli('DBSIZE')).toBe('2');
  });

  it('reports every failing endpoint together, each by its name', async () => {
    const secured = await server({ password: 'pw-Together-3' });
    const port = await freePort();
    const r = await ferry(
      'run',
      job(
        [
          { name: 'good-one', url: source.url },
          { name: 'no-pass', url: `redis://127.0.0.1:${secured.port}` },
        ],
        `url: "redis://127.0.0.1:${port}"`,
      ),
    );
    expectCleanFailure(r);
    expect(r.stderr).toMatch(/target \(127\.0\.0\.1:\d+\).*connection refused/i);
    expect(r.stderr).toMatch(/source no-pass.*requires a password/i);
    expect(r.stderr).not.toContain('good-one');
  });

  describe('(d) a target whose RESTORE is disabled', () => {
    let target: RedisServer;
    let file: string;
    let stateDir: string;
    const run = async (command: 'run' | 'verify', ...extra: string[]) => {
      const r = await runFerry([command, file, '--state-dir', stateDir, ...extra], { env: { FERRY_STATE_DIR: stateDir } });
      return { ...r, output: `${r.stdout}\n${r.stderr}` };
    };

    beforeAll(async () => {
      target = await server({ args: ['--rename-command', 'RESTORE', ''] });
      const dir = path.join(work, 'restore-disabled');
      file = writeJob(dir, job([{ name: 'src-d', url: source.url }], `url: "${target.url}"`));
      stateDir = path.join(dir, 'state');
    });

    it('exit 1, names the target and RESTORE, leaves no key behind', async () => {
      // The run starts, then the target refuses the first RESTORE: the summary says why.
      const r = await run('run');
      expectCleanFailure(r, 1, { startup: false });
      expect(r.output).toContain(`target (127.0.0.1:${target.port})`);
      expect(r.output).toContain('RESTORE');
      expect(r.output).toMatch(/refuses RESTORE|disabled|renamed/i);
      expect(r.output).toMatch(/^Failed in /m);
      expect(await target.cli('DBSIZE')).toBe('0');
      // The failure is written down: the checkpoint does not say the run finished.
      const checkpoint = JSON.parse(fs.readFileSync(path.join(stateDir, 'checkpoint.json'), 'utf8')) as { finished: boolean };
      expect(checkpoint.finished).toBe(false);
    });

    it('once RESTORE is back, --resume copies every key the failed run could not write', async () => {
      // Same address, RESTORE allowed again (what the operator does after reading the message).
      // (stop() once only: redisServers' stop() waits forever for an exit that already happened)
      servers.splice(servers.indexOf(target), 1);
      await target.stop();
      const fixed = await server({ port: target.port });
      const resumed = await run('run', '--resume');
      expect(resumed.code, resumed.output).toBe(0);
      expect(await fixed.cli('DBSIZE')).toBe(await source.cli('DBSIZE'));
      const v = await run('verify');
      expect(v.code, v.output).toBe(0);
      expect(v.stdout).toMatch(/Compared 4 keys .*: 4 equal, 0 differ/);
    });
  });

  it('(e) cluster: true on a standalone target: a clear message', async () => {
    const target = await server();
    const r = await ferry('run', job([{ name: 'src-e', url: source.url }], `url: "${target.url}", cluster: true`));
    expect(r.code, r.output).not.toBe(0);
    expectCleanFailure(r, r.code ?? -1);
    expect(r.stderr).toContain(`target (127.0.0.1:${target.port})`);
    expect(r.stderr).toMatch(/cluster: true/);
    expect(r.stderr).toMatch(/not in cluster mode/);
    expect(await target.cli('DBSIZE')).toBe('0');
  });

  it('(g) a staged TLS source: exit 2, not supported yet', async () => {
    const target = `url: "redis://127.0.0.1:1"`;
    const cases = [
      {
        yaml: `name: g3\nsources:\n  - { name: s, url: "rediss://127.0.0.1:1", stage: replica }\ntarget: { ${target} }\n`,
        says: ['sources[0].stage', 'not supported yet', 'stage: direct'],
      },
    ];
    const runs = await inBatches(
      cases.flatMap((c) => (['run', 'verify'] as const).map((command) => ({ c, command }))),
      2,
      ({ c, command }) => ferry(command, c.yaml),
    );
    runs.forEach((r, i) => {
      expectCleanFailure(r, 2);
      for (const s of cases[Math.floor(i / 2)].says) expect(r.stderr).toContain(s);
    });
  });
});

describe('cluster target', () => {
  let cluster: RedisCluster;
  let source: RedisServer;

  beforeAll(async () => {
    [cluster, source] = await Promise.all([startCluster(3), server()]);
    servers.push(cluster);
    await source.cli('MSET', 'zero:1', 'a', 'zero:2', 'b');
    await source.cli('-n', '1', 'MSET', 'one:1', 'x', 'one:2', 'y', 'one:3', 'z');
  }, 60_000);

  const clusterKeys = async () => (await Promise.all(cluster.nodes.map((n) => n.cli('DBSIZE')))).reduce((n, s) => n + Number(s), 0);

  it('(f) data in db 1 and no dbs mapping: non-zero exit, says to map the db to 0', async () => {
    const r = await ferry('run', job([{ name: 'src-f', url: source.url }], `url: "${cluster.url}"`));
    expect(r.code, r.output).not.toBe(0);
    expectCleanFailure(r, r.code ?? -1);
    expect(r.stderr).toContain('target');
    expect(r.stderr).toMatch(/db 1/);
    expect(r.stderr).toMatch(/options\.dbs/);
    expect(r.stderr).toContain('"1": 0');
    expect(await clusterKeys()).toBe(0);

    const v = await ferry('verify', job([{ name: 'src-f', url: source.url }], `url: "${cluster.url}"`));
    expect(v.code, v.output).not.toBe(0);
    expect(v.stderr).toContain('"1": 0');
    expect(stackTraceLines(v.output)).toEqual([]);
  });

  it('with dbs: { "1": 0 } the same job copies and verifies', async () => {
    const yaml = job([{ name: 'src-f', url: source.url }], `url: "${cluster.url}"`, '{ dbs: { "1": 0 } }');
    const r = await ferry('run', yaml);
    expect(r.code, r.output).toBe(0);
    expect(await clusterKeys()).toBe(5);
    const v = await ferry('verify', yaml);
    expect(v.code, v.output).toBe(0);
    expect(v.stdout).toMatch(/Compared 5 keys/);
  });

  it('a cluster node URL with a /db path: a clear message', async () => {
    const r = await ferry('run', job([{ name: 'src-f', url: source.url }], `url: "${cluster.url}/2"`, '{ dbs: { "1": 0 } }'));
    expect(r.code, r.output).not.toBe(0);
    expectCleanFailure(r, r.code ?? -1);
    expect(r.stderr).toMatch(/a cluster has only db 0/);
  });
});
