import fs from 'node:fs';
import path from 'node:path';

/** What ~/.ssh/config says about one Host alias. Absent fields: the config does not set them. */
export interface SshHostConfig {
  hostName?: string;
  user?: string;
  port?: number;
  /** Expanded (`~`, `%h`, ...), in config order, without duplicates. */
  identityFiles: string[];
  /** Raw ProxyJump value (see `parseJumpSpec`); absent for `ProxyJump none`. */
  proxyJump?: string;
  /** Some Host block other than a bare `Host *` matched the alias. */
  matched: boolean;
}

/** One config line: lowercase keyword and its unquoted arguments. */
export interface SshConfigLine {
  keyword: string;
  args: string[];
  line: number;
}

/** Reads the files an `Include` names: gets an absolute path (last component may hold `*`/`?`). */
export type IncludeReader = (pathPattern: string) => Array<{ path: string; text: string }>;

export interface JumpHost {
  user?: string;
  host: string;
  port?: number;
}

/** Splits arguments like ssh's argv_split: whitespace-separated, quotes group, `#` starts a comment. */
function splitArgs(s: string): string[] | null {
  const args: string[] = [];
  let i = 0;
  while (i < s.length) {
    while (i < s.length && /\s/.test(s[i]!)) i++;
    if (i >= s.length || s[i] === '#') break;
    let arg = '';
    let quote = '';
    for (; i < s.length; i++) {
      const c = s[i]!;
      if (c === '\\' && i + 1 < s.length && `'"\\${quote ? '' : ' '}`.includes(s[i + 1]!)) {
        arg += s[++i];
      } else if (quote) {
        if (c === quote) quote = '';
        else arg += c;
      } else if (c === '"' || c === "'") {
        quote = c;
      } else if (/\s/.test(c)) {
        break;
      } else {
        arg += c;
      }
    }
    if (quote) return null;
    args.push(arg);
  }
  return args;
}

/** The config's lines with keyword and arguments; lines ssh would reject (no value, open quote) are dropped. */
export function parseSshConfig(text: string): SshConfigLine[] {
  const lines: SshConfigLine[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const s = raw.trim();
    if (s === '' || s.startsWith('#')) return;
    // `Keyword value`, `Keyword=value` and `Keyword = value` are all valid.
    const m = /^([^\s=]+)\s*(?:=\s*)?(.*)$/s.exec(s);
    if (!m) return;
    const args = splitArgs(m[2]!);
    if (!args || args.length === 0) return;
    lines.push({ keyword: m[1]!.toLowerCase(), args, line: i + 1 });
  });
  return lines;
}

function globMatch(pattern: string, text: string): boolean {
  const re = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${re}$`, 'is').test(text);
}

/** A Host line matches when a pattern does and no negated pattern does. */
function hostLineMatches(patterns: string[], alias: string): boolean {
  let matched = false;
  for (const p of patterns) {
    if (p.startsWith('!')) {
      if (globMatch(p.slice(1), alias)) return false;
    } else if (globMatch(p, alias)) {
      matched = true;
    }
  }
  return matched;
}

/** Reads Include files from disk; a missing file is skipped, like ssh does. */
export const readIncludeFromDisk: IncludeReader = (pattern) => {
  const read = (p: string) => {
    try {
      return [{ path: p, text: fs.readFileSync(p, 'utf8') }];
    } catch {
      return [];
    }
  };
  const base = path.basename(pattern);
  if (!/[*?]/.test(base)) return read(pattern);
  const dir = path.dirname(pattern);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  return names
    .filter((n) => globMatch(base, n) && (base.startsWith('.') || !n.startsWith('.')))
    .sort()
    .flatMap((n) => read(path.join(dir, n)));
};

function expandTilde(p: string, homeDir: string): string {
  if (p === '~') return homeDir;
  return p.startsWith('~/') ? path.join(homeDir, p.slice(2)) : p;
}

/** ssh's `%` tokens; unknown ones (and %u/%r without a user) stay as written. */
function expandTokens(s: string, tokens: Record<string, string | undefined>): string {
  return s.replace(/%(.)/g, (whole, c: string) => (c === '%' ? '%' : (tokens[c] ?? whole)));
}

const MAX_INCLUDE_DEPTH = 16;

/**
 * What `ssh <alias>` would use from this config: for each keyword the first value obtained wins
 * across matching Host blocks (IdentityFile accumulates). Match blocks are skipped.
 */
export function resolveSshHost(
  alias: string,
  configText: string,
  homeDir: string,
  readInclude: IncludeReader = readIncludeFromDisk,
): SshHostConfig {
  let hostName: string | undefined;
  let user: string | undefined;
  let port: number | undefined;
  let proxyJump: string | undefined;
  const rawIdentityFiles: string[] = [];
  let matched = false;

  const apply = (lines: SshConfigLine[], startActive: boolean, depth: number): void => {
    let active = startActive;
    for (const { keyword, args } of lines) {
      if (keyword === 'host') {
        active = hostLineMatches(args, alias);
        if (active && !(args.length === 1 && args[0] === '*')) matched = true;
        continue;
      }
      if (keyword === 'match') {
        // Match criteria (exec, user, ...) can't be evaluated here; ignoring the block is the safe reading.
        active = false;
        continue;
      }
      if (!active) continue;
      const value = args[0]!;
      switch (keyword) {
        case 'hostname':
          hostName ??= value;
          break;
        case 'user':
          user ??= value;
          break;
        case 'port':
          if (port === undefined && /^\d+$/.test(value) && +value >= 1 && +value <= 65535) port = +value;
          break;
        case 'proxyjump':
          proxyJump ??= value;
          break;
        case 'identityfile':
          rawIdentityFiles.push(value);
          break;
        case 'include':
          if (depth >= MAX_INCLUDE_DEPTH) break;
          for (const arg of args) {
            const p = expandTilde(arg, homeDir);
            const abs = path.isAbsolute(p) ? p : path.join(homeDir, '.ssh', p);
            // Host lines inside an included file only last until its end.
            for (const f of readInclude(abs)) apply(parseSshConfig(f.text), true, depth + 1);
          }
          break;
      }
    }
  };
  apply(parseSshConfig(configText), true, 0);

  if (hostName !== undefined) hostName = expandTokens(hostName, { h: alias });
  const tokens = {
    h: hostName ?? alias,
    n: alias,
    p: String(port ?? 22),
    u: user,
    r: user,
    d: homeDir,
  };
  const identityFiles = [...new Set(rawIdentityFiles.map((f) => expandTokens(expandTilde(f, homeDir), tokens)))];
  return {
    ...(hostName !== undefined && { hostName }),
    ...(user !== undefined && { user }),
    ...(port !== undefined && { port }),
    identityFiles,
    ...(proxyJump !== undefined && proxyJump.toLowerCase() !== 'none' && { proxyJump }),
    matched,
  };
}

/** Parses a ProxyJump value: `[user@]host[:port]`, `ssh://[user@]host[:port]`, `[v6addr]:port`, comma-separated. */
export function parseJumpSpec(spec: string): JumpHost[] {
  const s = spec.trim();
  if (s === '' || s.toLowerCase() === 'none') return [];
  return s.split(',').map((part) => parseJumpHost(part.trim(), spec));
}

function parseJumpHost(part: string, spec: string): JumpHost {
  const fail = (why: string) => new Error(`invalid ProxyJump "${spec}": ${why}`);
  let s = part;
  if (/^ssh:\/\//i.test(s)) s = s.slice(6).replace(/\/$/, '');
  let user: string | undefined;
  const at = s.lastIndexOf('@');
  if (at >= 0) {
    user = s.slice(0, at);
    s = s.slice(at + 1);
    if (user === '') throw fail(`empty user in "${part}"`);
  }
  let host = s;
  let portText: string | undefined;
  if (s.startsWith('[')) {
    const end = s.indexOf(']');
    if (end < 0) throw fail(`missing "]" in "${part}"`);
    host = s.slice(1, end);
    const rest = s.slice(end + 1);
    if (rest !== '') {
      if (!rest.startsWith(':')) throw fail(`unexpected "${rest}" after "]" in "${part}"`);
      portText = rest.slice(1);
    }
  } else if (s.split(':').length === 2) {
    // One colon is host:port; more means a bare IPv6 address.
    [host, portText] = s.split(':') as [string, string];
  }
  if (host === '') throw fail(`no host in "${part}"`);
  let port: number | undefined;
  if (portText !== undefined) {
    if (!/^\d+$/.test(portText) || +portText < 1 || +portText > 65535) throw fail(`bad port "${portText}" in "${part}"`);
    port = +portText;
  }
  return { ...(user !== undefined && { user }), host, ...(port !== undefined && { port }) };
}
