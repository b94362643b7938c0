import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { runFerry, stackTraceLines } from '../support/cli.js';

/** The sandbox servers' ports, as the demo prints them. */
function printedPorts(stdout: string): number[] {
  return [...stdout.matchAll(/127\.0\.0\.1:(\d+)/g)].map((m) => Number(m[1]));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('ferry demo', () => {
  it('migrates the sandbox, verifies it, and stops everything it started', async () => {
    const result = await runFerry(['demo'], { timeoutMs: 120_000 });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = result.stdout;
    // Three sources of >= 100,000 keys in all.
    const keys = [...out.matchAll(/source legacy-\w\s+redis:\/\/\S+\s+([\d,]+) keys/g)].map((m) => Number(m[1].replace(/,/g, '')));
    expect(keys).toHaveLength(3);
    expect(keys.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(100_000);
    expect(out).toMatch(/total\s+[\d,]+\s+[\d,]+\s+100\s+400\s/); // unchanged 100, skipped 400: the colliding keys
    expect(out).toContain('warning: legacy-a: key "blob:a:report-2019"');
    expect(out).toContain('Verify passed');
    expect(out).toContain('Stopping the sandbox.');
    const jobFile = /job file\s+(\S+)/.exec(out)![1];
    expect(fs.existsSync(jobFile)).toBe(false);
    // Nothing listens on the sandbox's ports any more.
    for (const port of new Set(printedPorts(out))) {
      const res = await fetch(`http://127.0.0.1:${port}`).then(
        () => 'open',
        (err: Error & { cause?: { code?: string } }) => err.cause?.code ?? 'error',
      );
      expect(res, `port ${port}`).toBe('ECONNREFUSED');
    }
  });

  it('--keep leaves the servers running and says how to reach and stop them', async () => {
    const result = await runFerry(['demo', '--keep'], { timeoutMs: 120_000 });
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('The sandbox is still running (--keep)');
    expect(result.stdout).toMatch(/redis-cli -c -p \d+\s+# target cluster/);
    const pids = /Stop it with: kill ([\d ]+)/.exec(result.stdout)![1].trim().split(' ').map(Number);
    expect(pids).toHaveLength(6);
    try {
      for (const pid of pids) expect(processAlive(pid)).toBe(true);
    } finally {
      for (const pid of pids) process.kill(pid, 'SIGKILL');
      const jobFile = /job file\s+(\S+)/.exec(result.stdout)?.[1];
      if (jobFile) fs.rmSync(jobFile.replace(/\/sandbox\.yaml$/, ''), { recursive: true, force: true });
    }
  });

  it('without redis-server says exactly how to install it', async () => {
    const result = await runFerry(['demo'], { env: { FERRY_REDIS_SERVER: '/nonexistent/redis-server' } });
    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('/nonexistent/redis-server was not found');
    expect(result.stderr).toContain('sudo apt-get install -y redis-server');
    expect(stackTraceLines(result.stderr)).toEqual([]);
  });
});
