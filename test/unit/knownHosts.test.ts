import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  describeVerdict,
  fingerprintSha256,
  hostsFieldMatches,
  KnownHosts,
  keyTypeOf,
  parseKnownHosts,
  type HostKeyVerdict,
} from '../../main/engine/tunnels/knownHosts.js';

interface TestKey {
  pubFile: string;
  type: string;
  b64: string;
  blob: Buffer;
}

let dir: string;
let ed: TestKey;
let ed2: TestKey;
let rsa: TestKey;
let fileCount = 0;

function genKey(type: 'ed25519' | 'rsa', name: string): TestKey {
  const file = path.join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, ...(type === 'rsa' ? ['-b', '2048'] : []), '-N', '', '-C', name, '-f', file]);
  const [keyType, b64] = fs.readFileSync(`${file}.pub`, 'utf8').trim().split(/\s+/) as [string, string];
  return { pubFile: `${file}.pub`, type: keyType, b64, blob: Buffer.from(b64, 'base64') };
}

/** The fingerprint as OpenSSH prints it. */
function sshKeygenFingerprint(pubFile: string): string {
  return execFileSync('ssh-keygen', ['-lf', pubFile, '-E', 'sha256'], { encoding: 'utf8' }).split(/\s+/)[1]!;
}

function line(hosts: string, key: TestKey): string {
  return `${hosts} ${key.type} ${key.b64}`;
}

/** Writes a fresh known_hosts file and returns its path. */
function hostsFile(...lines: string[]): string {
  const file = path.join(dir, `known_hosts_${++fileCount}`);
  fs.writeFileSync(file, lines.join('\n') + '\n');
  return file;
}

function checker(...files: string[]): KnownHosts {
  return new KnownHosts({ readFiles: files, ownFile: path.join(dir, `own_${++fileCount}`, 'known_hosts') });
}

beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ferry-knownhosts-'));
  ed = genKey('ed25519', 'ed');
  ed2 = genKey('ed25519', 'ed2');
  rsa = genKey('rsa', 'rsa');
});

afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

describe('key blobs', () => {
  it('fingerprints match ssh-keygen -lf -E sha256', () => {
    for (const key of [ed, ed2, rsa]) {
      expect(fingerprintSha256(key.blob)).toBe(sshKeygenFingerprint(key.pubFile));
    }
    expect(fingerprintSha256(ed.blob)).toMatch(/^SHA256:[A-Za-z0-9+/]{43}$/);
  });

  it('reads the key type from the blob', () => {
    expect(keyTypeOf(ed.blob)).toBe('ssh-ed25519');
    expect(keyTypeOf(rsa.blob)).toBe('ssh-rsa');
    expect(() => keyTypeOf(Buffer.from([0, 0, 1]))).toThrow(/malformed/);
    expect(() => keyTypeOf(Buffer.from([0xff, 0xff, 0xff, 0xff, 0x41]))).toThrow(/malformed/);
  });
});

describe('parseKnownHosts', () => {
  it('skips comments, blank, malformed and @cert-authority lines, keeps @revoked', () => {
    const text = [
      '# comment',
      '',
      '   ',
      'onlyhost',
      'host ssh-ed25519',
      'host ssh-ed25519 !!!notbase64!!!',
      'host ssh-ed25519 AAAA',
      line('typemismatch', { ...ed, type: 'ssh-rsa' }),
      line('@cert-authority *.example.com', ed),
      line('@bogus host', ed),
      line('@revoked revokedhost', ed),
      `${line('good.example.com,10.0.0.1', rsa)} a comment`,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.hosts, e.revoked, e.keyType, e.line])).toEqual([
      ['revokedhost', true, 'ssh-ed25519', 11],
      ['good.example.com,10.0.0.1', false, 'ssh-rsa', 12],
    ]);
    expect(entries[1]!.blob.equals(rsa.blob)).toBe(true);
  });

  it('matches patterns: lists, ports, wildcards, negation, case', () => {
    expect(hostsFieldMatches('a.example.com,b.example.com', 'b.example.com')).toBe(true);
    expect(hostsFieldMatches('A.Example.COM', 'a.example.com')).toBe(true);
    expect(hostsFieldMatches('a.example.com', '[a.example.com]:2222')).toBe(false);
    expect(hostsFieldMatches('[a.example.com]:2222', '[a.example.com]:2222')).toBe(true);
    expect(hostsFieldMatches('*.example.com', 'x.example.com')).toBe(true);
    expect(hostsFieldMatches('*.example.com', 'example.com')).toBe(false);
    expect(hostsFieldMatches('db?.example.com', 'db1.example.com')).toBe(true);
    expect(hostsFieldMatches('db?.example.com', 'db12.example.com')).toBe(false);
    expect(hostsFieldMatches('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    expect(hostsFieldMatches('!bad.example.com', 'good.example.com')).toBe(false);
    expect(hostsFieldMatches('|1|notvalid', 'a')).toBe(false);
  });
});

describe('KnownHosts.check', () => {
  it('known, unknown and mismatch against a plain file', () => {
    const file = hostsFile('# mine', line('redis-bastion.example.com,10.1.2.3', ed));
    const kh = checker(file);
    expect(kh.check('redis-bastion.example.com', 22, ed.blob)).toEqual({ kind: 'known' });
    expect(kh.check('10.1.2.3', 22, ed.blob)).toEqual({ kind: 'known' });
    expect(kh.check('Redis-Bastion.example.com', 22, ed.blob)).toEqual({ kind: 'known' });
    // Port 22 entries say nothing about other ports.
    expect(kh.check('redis-bastion.example.com', 2222, ed.blob).kind).toBe('unknown');
    expect(kh.check('other.example.com', 22, ed.blob)).toEqual({
      kind: 'unknown',
      keyType: 'ssh-ed25519',
      fingerprint: fingerprintSha256(ed.blob),
      ownFile: kh.ownFile,
    });
    expect(kh.check('redis-bastion.example.com', 22, rsa.blob)).toEqual({
      kind: 'mismatch',
      keyType: 'ssh-rsa',
      fingerprint: fingerprintSha256(rsa.blob),
      known: [{ keyType: 'ssh-ed25519', fingerprint: fingerprintSha256(ed.blob), file, line: 2 }],
    });
  });

  it('is known when any of several entries holds the key, and lists all entries on mismatch', () => {
    const a = hostsFile(line('h.example.com', ed));
    const b = hostsFile(line('other', rsa), line('h.example.com', rsa));
    expect(checker(a, b).check('h.example.com', 22, rsa.blob)).toEqual({ kind: 'known' });
    const v = checker(a, b).check('h.example.com', 22, ed2.blob);
    expect(v.kind).toBe('mismatch');
    if (v.kind !== 'mismatch') return;
    expect(v.known.map((k) => [k.file, k.line, k.keyType])).toEqual([
      [a, 1, 'ssh-ed25519'],
      [b, 2, 'ssh-rsa'],
    ]);
  });

  it('matches entries hashed by ssh-keygen -H, including [host]:port', () => {
    const file = hostsFile(line('bastion.example.com', ed), line('[bastion.example.com]:2222', rsa));
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file], { stdio: 'pipe' });
    const text = fs.readFileSync(file, 'utf8');
    expect(text).not.toContain('bastion');
    expect(text.trim().split('\n').every((l) => l.startsWith('|1|'))).toBe(true);
    const kh = checker(file);
    expect(kh.check('bastion.example.com', 22, ed.blob)).toEqual({ kind: 'known' });
    expect(kh.check('BASTION.example.com', 22, ed.blob)).toEqual({ kind: 'known' });
    expect(kh.check('bastion.example.com', 2222, rsa.blob)).toEqual({ kind: 'known' });
    expect(kh.check('bastion.example.com', 2222, ed.blob).kind).toBe('mismatch');
    expect(kh.check('bastion.example.com', 2223, rsa.blob).kind).toBe('unknown');
    expect(kh.check('other.example.com', 22, ed.blob).kind).toBe('unknown');
  });

  it('refuses a @revoked key, but a revoked other key does not count as known', () => {
    const file = hostsFile(line('h.example.com', ed), line('@revoked *', ed), line('@revoked *', rsa));
    const kh = checker(file);
    expect(kh.check('h.example.com', 22, ed.blob)).toEqual({
      kind: 'revoked',
      keyType: 'ssh-ed25519',
      fingerprint: fingerprintSha256(ed.blob),
      file,
      line: 2,
    });
    // rsa is revoked everywhere; ed2 is merely different from the known ed key.
    expect(kh.check('h.example.com', 22, rsa.blob).kind).toBe('revoked');
    const v = kh.check('h.example.com', 22, ed2.blob);
    expect(v.kind === 'mismatch' && v.known.map((k) => k.line)).toEqual([1]);
    expect(checker(hostsFile(line('@revoked *', rsa))).check('x', 22, ed.blob).kind).toBe('unknown');
  });

  it('honours negation and wildcards', () => {
    const kh = checker(hostsFile(line('*.prod.example.com,!legacy.prod.example.com', ed), line('db?.example.com', rsa)));
    expect(kh.check('cache.prod.example.com', 22, ed.blob).kind).toBe('known');
    expect(kh.check('legacy.prod.example.com', 22, ed.blob).kind).toBe('unknown');
    expect(kh.check('db1.example.com', 22, rsa.blob).kind).toBe('known');
    expect(kh.check('db12.example.com', 22, rsa.blob).kind).toBe('unknown');
    expect(kh.check('db1.example.com', 22, ed.blob).kind).toBe('mismatch');
  });

  it('lists the key types known for a host', () => {
    const kh = checker(hostsFile(line('h', rsa), line('@revoked h', ed2), line('*', ed), line('h', rsa), line('other', ed2)));
    expect(kh.knownKeyTypes('h', 22)).toEqual(['ssh-rsa', 'ssh-ed25519']);
    // `*` covers `[h]:2222` too, as in ssh.
    expect(kh.knownKeyTypes('h', 2222)).toEqual(['ssh-ed25519']);
    expect(checker(hostsFile(line('h', rsa))).knownKeyTypes('h', 2222)).toEqual([]);
  });

  it('ignores @cert-authority lines and missing files', () => {
    const kh = checker(hostsFile(line('@cert-authority *.example.com', ed)), path.join(dir, 'nope', 'known_hosts'));
    expect(kh.check('a.example.com', 22, ed.blob).kind).toBe('unknown');
  });

  it('throws for a file that exists but cannot be read', () => {
    const kh = checker(dir);
    expect(() => kh.check('a.example.com', 22, ed.blob)).toThrow(/cannot read known_hosts file/);
  });
});

describe('KnownHosts.remember', () => {
  it('records a hashed line that check and ssh-keygen -F find', () => {
    const ownDir = path.join(dir, 'ferry-home', 'nested');
    const ownFile = path.join(ownDir, 'known_hosts');
    const kh = new KnownHosts({ readFiles: [path.join(dir, 'missing')], ownFile });
    expect(kh.check('bastion.example.com', 22, ed.blob).kind).toBe('unknown');
    kh.remember('bastion.example.com', 22, ed.blob);
    kh.remember('bastion.example.com', 2222, rsa.blob);
    expect(kh.check('bastion.example.com', 22, ed.blob)).toEqual({ kind: 'known' });
    expect(kh.check('bastion.example.com', 2222, rsa.blob)).toEqual({ kind: 'known' });
    expect(kh.check('bastion.example.com', 22, ed2.blob).kind).toBe('mismatch');

    expect(fs.statSync(ownFile).mode & 0o777).toBe(0o600);
    expect(fs.statSync(ownDir).mode & 0o777).toBe(0o700);
    const lines = fs.readFileSync(ownFile, 'utf8').split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^\|1\|[A-Za-z0-9+/=]+\|[A-Za-z0-9+/=]+ ssh-ed25519 /);
    expect(lines[0]!.endsWith(ed.b64)).toBe(true);
    expect(lines[2]).toBe('');
    expect(fs.readFileSync(ownFile, 'utf8')).not.toContain('bastion');

    for (const [name, key] of [['bastion.example.com', ed], ['[bastion.example.com]:2222', rsa]] as const) {
      const found = spawnSync('ssh-keygen', ['-F', name, '-f', ownFile], { encoding: 'utf8' });
      expect(found.status).toBe(0);
      expect(found.stdout).toContain(key.b64);
    }
    expect(spawnSync('ssh-keygen', ['-F', 'other.example.com', '-f', ownFile]).status).not.toBe(0);
  });

  it('does not glue its line onto a last line without newline', () => {
    const ownFile = path.join(dir, 'no-newline');
    fs.writeFileSync(ownFile, line('a.example.com', rsa));
    const kh = new KnownHosts({ readFiles: [], ownFile });
    kh.remember('b.example.com', 22, ed.blob);
    expect(kh.check('a.example.com', 22, rsa.blob).kind).toBe('known');
    expect(kh.check('b.example.com', 22, ed.blob).kind).toBe('known');
  });
});

describe('describeVerdict', () => {
  const fpEd = () => fingerprintSha256(ed.blob);
  const fpRsa = () => fingerprintSha256(rsa.blob);

  it('mismatch: both fingerprints, file:line, MITM warning and the ssh-keygen -R fix', () => {
    const verdict: HostKeyVerdict = {
      kind: 'mismatch',
      keyType: 'ssh-rsa',
      fingerprint: fpRsa(),
      known: [{ keyType: 'ssh-ed25519', fingerprint: fpEd(), file: '/home/u/.ssh/known_hosts', line: 7 }],
    };
    const msg = describeVerdict('dc1', 'bastion.example.com', 2222, verdict);
    expect(msg.startsWith('tunnel dc1 (bastion.example.com:2222): ')).toBe(true);
    expect(msg).toContain(fpRsa());
    expect(msg).toContain(fpEd());
    expect(msg).toContain('/home/u/.ssh/known_hosts:7');
    expect(msg).toContain('man-in-the-middle');
    expect(msg).toContain("ssh-keygen -R '[bastion.example.com]:2222' -f /home/u/.ssh/known_hosts");
    expect(msg).toContain('administrator');
    expect(describeVerdict('dc1', 'bastion.example.com', 22, verdict)).toContain('ssh-keygen -R bastion.example.com -f');
  });

  it('mismatch produced by check names both keys', () => {
    const file = hostsFile(line('h.example.com', ed));
    const kh = checker(file);
    const msg = describeVerdict('t', 'h.example.com', 22, kh.check('h.example.com', 22, rsa.blob));
    expect(msg).toContain(fpEd());
    expect(msg).toContain(fpRsa());
    expect(msg).toContain(`${file}:1`);
  });

  it('unknown: fingerprint, how to verify, the accept flag and where it is recorded', () => {
    const kh = checker();
    const msg = describeVerdict('dc1', 'fd00::1', 22, kh.check('fd00::1', 22, ed.blob));
    expect(msg.startsWith('tunnel dc1 ([fd00::1]:22): ')).toBe(true);
    expect(msg).toContain(fpEd());
    expect(msg).toContain('--accept-new-host-keys');
    expect(msg).toContain(kh.ownFile);
    expect(msg).toContain('known_hosts');
    expect(describeVerdict('dc1', 'h', 22, { kind: 'unknown', keyType: 'ssh-ed25519', fingerprint: fpEd() }, '--yes')).toContain(
      '--yes',
    );
  });

  it('revoked: names the file and line', () => {
    const msg = describeVerdict('dc1', 'h', 22, {
      kind: 'revoked',
      keyType: 'ssh-ed25519',
      fingerprint: fpEd(),
      file: '/etc/ssh/ssh_known_hosts',
      line: 3,
    });
    expect(msg.startsWith('tunnel dc1 (h:22): ')).toBe(true);
    expect(msg).toContain('revoked');
    expect(msg).toContain('/etc/ssh/ssh_known_hosts:3');
    expect(msg).toContain(fpEd());
  });
});
