// Filling a source fast: RESP generated here, sent through `redis-cli --pipe` (one process, no
// round trip per command).
import { spawn } from 'node:child_process';

export type Arg = string | Buffer | number;

export function resp(args: Arg[]): Buffer {
  const parts: Buffer[] = [Buffer.from(`*${args.length}\r\n`)];
  for (const a of args) {
    const b = Buffer.isBuffer(a) ? a : Buffer.from(String(a));
    parts.push(Buffer.from(`$${b.length}\r\n`), b, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

/** Sends commands with `redis-cli --pipe`; rejects unless every reply arrived without an error. */
export function pipe(port: number, commands: Buffer[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-cli', ['-p', String(port), '--pipe'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.once('error', reject);
    child.once('close', (code) => {
      const m = /errors: (\d+), replies: (\d+)/.exec(out);
      if (code === 0 && m && m[1] === '0' && Number(m[2]) === commands.length) resolve();
      else reject(new Error(`redis-cli --pipe failed (exit ${code}): ${out}`));
    });
    child.stdin.end(Buffer.concat(commands));
  });
}
