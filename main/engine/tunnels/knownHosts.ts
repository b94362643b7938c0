import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';

/** What the known_hosts files say about the key an SSH server presented. */
export type HostKeyVerdict =
  | { kind: 'known' }
  /** `ownFile`: where `remember` would record the key (for the message). */
  | { kind: 'unknown'; keyType: string; fingerprint: string; ownFile?: string }
  | {
      kind: 'mismatch';
      keyType: string;
      fingerprint: string;
      known: Array<{ keyType: string; fingerprint: string; file: string; line: number }>;
    }
  | { kind: 'revoked'; keyType: string; fingerprint: string; file: string; line: number };

/** One usable line of a known_hosts file. */
export interface KnownHostEntry {
  /** The host field as written: comma-separated patterns, or one `|1|salt|hash`. */
  hosts: string;
  revoked: boolean;
  keyType: string;
  blob: Buffer;
  /** 1-based. */
  line: number;
}

/** `SHA256:<base64, unpadded>` of the wire-format key blob, as `ssh-keygen -l` prints it. */
export function fingerprintSha256(keyBlob: Buffer): string {
  return 'SHA256:' + crypto.createHash('sha256').update(keyBlob).digest('base64').replace(/=+$/, '');
}

/** The key's algorithm name: the blob's first SSH string. Throws on a blob too short to hold one. */
export function keyTypeOf(keyBlob: Buffer): string {
  if (keyBlob.length < 4) throw new Error('malformed SSH public key');
  const len = keyBlob.readUInt32BE(0);
  // Real names are short ASCII; a huge length means this is not a key blob.
  if (len === 0 || len > 128 || 4 + len > keyBlob.length) throw new Error('malformed SSH public key');
  return keyBlob.toString('latin1', 4, 4 + len);
}

/** The name known_hosts uses for a host: `host` on port 22, `[host]:port` otherwise (lowercase, as ssh does). */
export function knownHostsName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/** The usable entries of a known_hosts file; malformed and `@cert-authority` lines are skipped. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split('\n').forEach((raw, i) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === '' || fields[0]!.startsWith('#')) return;
    let revoked = false;
    if (fields[0]!.startsWith('@')) {
      // CA lines vouch for certificates, which Ferry does not use; unknown markers are not ours to guess.
      if (fields[0] !== '@revoked') return;
      revoked = true;
      fields.shift();
    }
    const [hosts, keyType, b64] = fields;
    if (!hosts || !keyType || !b64 || !BASE64.test(b64)) return;
    const blob = Buffer.from(b64, 'base64');
    try {
      if (keyTypeOf(blob) !== keyType) return;
    } catch {
      return;
    }
    entries.push({ hosts, revoked, keyType, blob, line: i + 1 });
  });
  return entries;
}

function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 's').test(text);
}

/** Whether an entry's host field names `name` (see `knownHostsName`). */
export function hostsFieldMatches(hosts: string, name: string): boolean {
  if (hosts.startsWith('|')) {
    const [, magic, salt, hash] = hosts.split('|');
    if (magic !== '1' || !salt || !hash) return false;
    const want = Buffer.from(hash, 'base64');
    return crypto.createHmac('sha1', Buffer.from(salt, 'base64')).update(name).digest().equals(want);
  }
  let matched = false;
  for (const p of hosts.toLowerCase().split(',')) {
    if (p.startsWith('!')) {
      // A negated match vetoes the whole line, whatever else matched.
      if (globMatch(p.slice(1), name)) return false;
    } else if (p !== '' && globMatch(p, name)) {
      matched = true;
    }
  }
  return matched;
}

function readIfExists(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return '';
    // An unreadable file may hold a key that would refuse this server: do not guess "unknown".
    throw new Error(`cannot read known_hosts file ${file}: ${(err as Error).message}`);
  }
}

/** Host key checks against OpenSSH known_hosts files, plus Ferry's own file that `remember` appends to. */
export class KnownHosts {
  readonly readFiles: string[];
  readonly ownFile: string;

  constructor(opts: { readFiles: string[]; ownFile: string }) {
    this.readFiles = opts.readFiles;
    this.ownFile = opts.ownFile;
  }

  check(host: string, port: number, keyBlob: Buffer): HostKeyVerdict {
    const keyType = keyTypeOf(keyBlob);
    const fingerprint = fingerprintSha256(keyBlob);
    const name = knownHostsName(host, port);
    let known = false;
    let revoked: { file: string; line: number } | null = null;
    const others: Array<{ keyType: string; fingerprint: string; file: string; line: number }> = [];
    // Re-read every time: another tunnel may have just appended to ownFile.
    for (const file of new Set([...this.readFiles, this.ownFile])) {
      for (const e of parseKnownHosts(readIfExists(file))) {
        if (!hostsFieldMatches(e.hosts, name)) continue;
        const same = e.blob.equals(keyBlob);
        if (e.revoked) {
          // A revoked line only speaks about its own key; it is not "a known key" of the host.
          if (same && !revoked) revoked = { file, line: e.line };
        } else if (same) {
          known = true;
        } else {
          others.push({ keyType: e.keyType, fingerprint: fingerprintSha256(e.blob), file, line: e.line });
        }
      }
    }
    if (revoked) return { kind: 'revoked', keyType, fingerprint, ...revoked };
    if (known) return { kind: 'known' };
    if (others.length > 0) return { kind: 'mismatch', keyType, fingerprint, known: others };
    return { kind: 'unknown', keyType, fingerprint, ownFile: this.ownFile };
  }

  /**
   * Key types recorded for this host, in file order. ssh prefers these when negotiating the host key
   * algorithm; a client that does not may get a key of another type and see a spurious mismatch.
   */
  knownKeyTypes(host: string, port: number): string[] {
    const name = knownHostsName(host, port);
    const types = new Set<string>();
    for (const file of new Set([...this.readFiles, this.ownFile])) {
      for (const e of parseKnownHosts(readIfExists(file))) {
        if (!e.revoked && hostsFieldMatches(e.hosts, name)) types.add(e.keyType);
      }
    }
    return [...types];
  }

  /** Appends the key to ownFile, hashed like `HashKnownHosts yes` so the file does not list where Ferry goes. */
  remember(host: string, port: number, keyBlob: Buffer): void {
    const salt = crypto.randomBytes(20);
    const hash = crypto.createHmac('sha1', salt).update(knownHostsName(host, port)).digest();
    const line = `|1|${salt.toString('base64')}|${hash.toString('base64')} ${keyTypeOf(keyBlob)} ${keyBlob.toString('base64')}\n`;
    fs.mkdirSync(path.dirname(this.ownFile), { recursive: true, mode: 0o700 });
    const existing = readIfExists(this.ownFile);
    // A hand-edited file may lack its final newline; do not glue our line onto the last one.
    const sep = existing !== '' && !existing.endsWith('\n') ? '\n' : '';
    fs.appendFileSync(this.ownFile, sep + line, { mode: 0o600 });
  }
}

/** `host:port` as users write it (IPv6 in brackets). */
function displayAddress(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

function shellQuote(s: string): string {
  return /^[A-Za-z0-9_./:@%+=,-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The message for a verdict that refuses the connection; says what to check and how to fix it. */
export function describeVerdict(
  tunnelName: string,
  host: string,
  port: number,
  verdict: HostKeyVerdict,
  acceptFlag = '--accept-new-host-keys',
): string {
  const head = `tunnel ${tunnelName} (${displayAddress(host, port)}): `;
  switch (verdict.kind) {
    case 'known':
      return `${head}the SSH server's host key is known`;
    case 'unknown': {
      const where = verdict.ownFile ? ` at ${verdict.ownFile}` : '';
      return (
        `${head}the SSH server's host key is not in any known_hosts file, so Ferry cannot tell it is the right server.\n` +
        `  presented: ${verdict.keyType} ${verdict.fingerprint}\n` +
        `Verify this fingerprint with the server's administrator (on the server: ssh-keygen -lf <host key .pub file>), then ` +
        `rerun with ${acceptFlag} (records it in Ferry's own known_hosts${where}), or add it to your known_hosts ` +
        `(for example by connecting once with ssh).`
      );
    }
    case 'mismatch': {
      const known = verdict.known.map((k) => `  known:     ${k.keyType} ${k.fingerprint} (${k.file}:${k.line})`);
      const files = [...new Set(verdict.known.map((k) => k.file))];
      const target = shellQuote(knownHostsName(host, port));
      return (
        `${head}the SSH server's host key does NOT match the one recorded for this host; refusing to connect.\n` +
        `  presented: ${verdict.keyType} ${verdict.fingerprint}\n` +
        `${known.join('\n')}\n` +
        `Someone may be intercepting the connection (man-in-the-middle attack), or the server's key was replaced. ` +
        `Confirm the new fingerprint with the server's administrator; only then remove the stale entry:\n` +
        `${files.map((f) => `  ssh-keygen -R ${target} -f ${shellQuote(f)}`).join('\n')}\n` +
        `and rerun (with ${acceptFlag} to record the new key).`
      );
    }
    case 'revoked':
      return (
        `${head}the SSH server presented a revoked host key (${verdict.keyType} ${verdict.fingerprint}), ` +
        `marked @revoked in ${verdict.file}:${verdict.line}; refusing to connect.`
      );
  }
}
