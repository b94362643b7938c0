import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './redisServers.js';

/** An SSH key made by ssh-keygen. `publicKeyLine` is the `.pub` file's one line, trimmed. */
export interface KeyPair {
  privateKeyPath: string;
  publicKeyPath: string;
  publicKeyLine: string;
  passphrase?: string;
}

/** A private OpenSSH server on 127.0.0.1, run for a test from its own temp directory. */
export interface Sshd {
  port: number;
  dir: string;
  /** The server's host key. */
  hostKey: KeyPair;
  /** `[127.0.0.1]:PORT ssh-ed25519 AAAA...`, one line for a known_hosts file. */
  knownHostsLine(): string;
  /** Kills the server and every connection it is serving, and waits; removes nothing. */
  stop(): Promise<void>;
  /**
   * Stops (SIGSTOP) the server and every connection it serves, as a vanished network would: no
   * reset is sent, connections just go quiet. New TCP connections still queue in the kernel.
   */
  freeze(): void;
  /** Lets a frozen server and its connections go on (SIGCONT). */
  thaw(): void;
  /** Starts it again on the same port, with the same host key and config. */
  restart(): Promise<void>;
  /** stop() and remove `dir`. */
  cleanup(): Promise<void>;
}

/**
 * The local account the password-auth tests log in as. sshd without PAM checks /etc/shadow, so it
 * must be a real user; `.ci/setup` creates it with this same password.
 */
export const SSH_PASSWORD_USER = { name: 'ferrytest', password: 'ferry-ssh-test-Pw1' } as const;

const SSHD = '/usr/sbin/sshd';

// A test that dies before its afterAll must not leave servers (or their sessions) behind.
const running = new Set<number>();
process.on('exit', () => {
  for (const pid of running) killTree(pid);
});

export function makeKeyPair(dir: string, name: string, opts: { passphrase?: string; type?: 'ed25519' | 'rsa' } = {}): KeyPair {
  const privateKeyPath = path.join(dir, name);
  const type = opts.type ?? 'ed25519';
  const bits = type === 'rsa' ? ['-b', '2048'] : [];
  execFileSync('ssh-keygen', ['-q', '-t', type, ...bits, '-N', opts.passphrase ?? '', '-C', name, '-f', privateKeyPath], { stdio: 'pipe' });
  const publicKeyPath = `${privateKeyPath}.pub`;
  return { privateKeyPath, publicKeyPath, publicKeyLine: fs.readFileSync(publicKeyPath, 'utf8').trim(), passphrase: opts.passphrase };
}

/**
 * Makes sure SSH_PASSWORD_USER exists with its password (idempotent). Needs root to create it;
 * as another user an existing account is taken as is.
 */
export function ensurePasswordUser(): void {
  const { name, password } = SSH_PASSWORD_USER;
  const exists = spawnSync('id', ['-u', name], { stdio: 'ignore' }).status === 0;
  if (process.getuid?.() !== 0) {
    if (exists) return;
    throw new Error(`the local user "${name}" for the SSH password tests is missing; run \`bash .ci/setup\` (as root or with sudo)`);
  }
  if (!exists) execFileSync('useradd', ['-m', '-s', '/bin/bash', name], { stdio: 'pipe' });
  execFileSync('chpasswd', { input: `${name}:${password}\n`, stdio: ['pipe', 'pipe', 'pipe'] });
}

export async function startSshd(opts: { authorizedKeys?: KeyPair[]; passwordAuth?: boolean; port?: number; hostKey?: KeyPair; extraConfig?: string[] } = {}): Promise<Sshd> {
  if (opts.passwordAuth) ensurePasswordUser();
  // sshd refuses to start without its privilege-separation directory.
  fs.mkdirSync('/run/sshd', { recursive: true });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-sshd-'));
  const port = opts.port ?? (await freePort());
  const hostKey = opts.hostKey ?? makeKeyPair(dir, 'host_ed25519');
  const authorizedKeys = path.join(dir, 'authorized_keys');
  fs.writeFileSync(authorizedKeys, (opts.authorizedKeys ?? []).map((k) => `${k.publicKeyLine}\n`).join(''));
  const lines = [
    `Port ${port}`,
    'ListenAddress 127.0.0.1',
    `HostKey ${hostKey.privateKeyPath}`,
    `PidFile ${path.join(dir, 'sshd.pid')}`,
    `AuthorizedKeysFile ${authorizedKeys}`,
    'PermitRootLogin prohibit-password',
    `PasswordAuthentication ${opts.passwordAuth ? 'yes' : 'no'}`,
    'KbdInteractiveAuthentication no',
    'UsePAM no',
    // Keys and config live under /tmp, which StrictModes would reject.
    'StrictModes no',
    'AllowTcpForwarding yes',
    'PrintMotd no',
    // Tests open many connections at once; the default 10:30:100 would drop some.
    'MaxStartups 200',
    ...(opts.extraConfig ?? []),
  ];
  const config = path.join(dir, 'sshd_config');

  const logFile = path.join(dir, 'sshd.log');
  let child: ChildProcess | undefined;
  const start = async () => {
    const log = fs.openSync(logFile, 'a');
    // Own process group, so a Ctrl-C meant for the test runner does not reach it first.
    child = spawn(SSHD, ['-D', '-e', '-f', config], { stdio: ['ignore', log, log], detached: true });
    fs.closeSync(log);
    running.add(child.pid!);
    await waitForBanner(port, child, logFile);
  };
  const stop = async () => {
    const c = child;
    if (!c?.pid) return;
    // Once it has exited its pid may belong to someone else: do not signal it again.
    if (c.exitCode === null && c.signalCode === null) {
      const exited = new Promise((r) => c.once('exit', r));
      killTree(c.pid);
      await exited;
    }
    running.delete(c.pid);
  };

  try {
    writeConfig(config, lines);
    await start();
  } catch (e) {
    await stop();
    fs.rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  let frozen: number[] = [];
  return {
    port,
    dir,
    hostKey,
    freeze: () => {
      if (child?.pid) frozen = stopTree(child.pid);
    },
    thaw: () => {
      for (const pid of frozen) signal(pid, 'SIGCONT');
      frozen = [];
    },
    knownHostsLine: () => {
      const [type, blob] = hostKey.publicKeyLine.split(/\s+/);
      return `[127.0.0.1]:${port} ${type} ${blob}`;
    },
    stop,
    restart: async () => {
      await stop();
      await start();
    },
    cleanup: async () => {
      await stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Runs `ssh-agent -D -a <socket>` and loads `keys` into it. A key with a passphrase is unlocked
 * through SSH_ASKPASS, so ssh-add never waits on a terminal.
 */
export async function startSshAgent(keys: KeyPair[]): Promise<{ socket: string; stop(): Promise<void> }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-agent-'));
  const socket = path.join(dir, 'agent.sock');
  const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore', detached: true });
  running.add(agent.pid!);
  const stop = async () => {
    if (agent.exitCode === null && agent.signalCode === null) {
      const exited = new Promise((r) => agent.once('exit', r));
      killTree(agent.pid!);
      await exited;
    }
    running.delete(agent.pid!);
    fs.rmSync(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 10_000;
    while (!fs.existsSync(socket)) {
      if (agent.exitCode !== null || Date.now() > deadline) throw new Error('ssh-agent did not create its socket');
      await sleep(20);
    }
    const askpass = path.join(dir, 'askpass.sh');
    fs.writeFileSync(askpass, '#!/bin/sh\nprintf "%s\\n" "$FERRY_KEY_PASSPHRASE"\n', { mode: 0o700 });
    for (const key of keys) {
      const env = { ...process.env, SSH_AUTH_SOCK: socket, SSH_ASKPASS: askpass, SSH_ASKPASS_REQUIRE: 'force', FERRY_KEY_PASSPHRASE: key.passphrase ?? '' };
      execFileSync('ssh-add', [key.privateKeyPath], { env, stdio: 'pipe' });
    }
  } catch (e) {
    await stop();
    throw e;
  }
  return { socket, stop };
}

// PerSourcePenalties (OpenSSH 9.8+) would lock 127.0.0.1 out for seconds after a test's refused
// login; older servers do not know the option and refuse the whole config, so only add it if known.
let penaltiesKnown: boolean | undefined;
function writeConfig(file: string, lines: string[]): void {
  if (penaltiesKnown === undefined) {
    fs.writeFileSync(file, [...lines, 'PerSourcePenalties no', ''].join('\n'));
    const check = spawnSync(SSHD, ['-t', '-f', file], { encoding: 'utf8' });
    penaltiesKnown = !/PerSourcePenalties/.test(check.stderr);
  }
  fs.writeFileSync(file, [...lines, ...(penaltiesKnown ? ['PerSourcePenalties no'] : []), ''].join('\n'));
  const check = spawnSync(SSHD, ['-t', '-f', file], { encoding: 'utf8' });
  if (check.status !== 0) throw new Error(`sshd rejects its config ${file}:\n${check.stderr}`);
}

/** Ready means the port accepts TCP and the server sends its `SSH-2.0-` version line. */
async function waitForBanner(port: number, child: ChildProcess, logFile: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      const tail = fs.readFileSync(logFile, 'utf8').split('\n').slice(-20).join('\n');
      throw new Error(`sshd on port ${port} exited (${child.exitCode ?? child.signalCode}):\n${tail}`);
    }
    if (await readsBanner(port)) return;
    if (Date.now() > deadline) throw new Error(`sshd on port ${port} sent no SSH banner within 15s`);
    await sleep(50);
  }
}

function readsBanner(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    let seen = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(2_000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('close', () => done(false));
    socket.on('data', (d) => {
      seen += d.toString('latin1');
      if (seen.includes('SSH-2.0-')) done(true);
    });
  });
}

/**
 * SIGKILLs `root` and all its descendants. Killing the process group is not enough: sshd's
 * per-connection children call setsid(), so they live in groups of their own. Everything is
 * stopped first, top-down, so nothing forks or gets re-parented to init while we collect.
 */
function killTree(root: number): void {
  for (const pid of stopTree(root)) signal(pid, 'SIGKILL');
}

/** SIGSTOPs `root` and all its descendants, top-down; returns their pids. */
function stopTree(root: number): number[] {
  const tree = new Set<number>();
  let found = [root];
  while (found.length > 0) {
    for (const pid of found) {
      tree.add(pid);
      signal(pid, 'SIGSTOP');
    }
    const children = childrenByParent();
    found = [...tree].flatMap((pid) => children.get(pid) ?? []).filter((pid) => !tree.has(pid));
  }
  return [...tree];
}

function childrenByParent(): Map<number, number[]> {
  const children = new Map<number, number[]>();
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so parse after the last ')'.
    const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    children.set(ppid, [...(children.get(ppid) ?? []), Number(entry)]);
  }
  return children;
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
