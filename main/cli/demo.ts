import { loadJobFile } from '../engine/job/loadJob.js';
import { startSandbox } from '../engine/sandbox/sandbox.js';
import { EXIT_FAILED, EXIT_OK, runCommand, verifyCommand } from './commands.js';
import { formatCount } from './format.js';

/** `ferry demo`: start the sandbox, migrate it, verify it, show what happened, clean up. */
export async function runDemo(opts: { keep: boolean; json: boolean }): Promise<number> {
  const say = (text: string) => {
    if (!opts.json) process.stdout.write(`${text}\n`);
  };
  say('Starting the sandbox: 3 legacy Redis servers and a 3-node target cluster on 127.0.0.1...');
  const sandbox = await startSandbox({ keep: opts.keep });
  try {
    for (const s of sandbox.sources) say(`  source ${s.name.padEnd(9)} redis://127.0.0.1:${s.server.port}  ${formatCount(s.keys)} keys`);
    say(`  target cluster   ${sandbox.targetNodes.map((n) => `127.0.0.1:${n.port}`).join(', ')}`);
    say(`  job file         ${sandbox.jobPath}\n`);
    const stateDir = `${sandbox.dir}/state`;
    const loaded = await loadJobFile(sandbox.jobPath);
    const ran = await runCommand(loaded, { resume: false, json: opts.json, stateDir });
    say('\nVerifying every key against the target...');
    const verified = await verifyCommand(loaded, { json: opts.json, ttlToleranceMs: 1000, stateDir });
    if (opts.keep) {
      say('\nThe sandbox is still running (--keep):');
      for (const s of sandbox.sources) say(`  redis-cli -p ${s.server.port}        # ${s.name}`);
      say(`  redis-cli -c -p ${sandbox.targetNodes[0].port}     # target cluster`);
      say(`  npx ferry verify ${sandbox.jobPath} --state-dir ${stateDir}`);
      say(`Stop it with: kill ${[...sandbox.sources.map((s) => s.server.pid), ...sandbox.targetNodes.map((n) => n.pid)].join(' ')}`);
    }
    return ran === EXIT_OK && verified === EXIT_OK ? EXIT_OK : EXIT_FAILED;
  } finally {
    if (!opts.keep) {
      say('\nStopping the sandbox.');
      await sandbox.stop();
    }
  }
}
