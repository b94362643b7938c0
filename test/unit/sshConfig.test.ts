import { describe, expect, it } from 'vitest';
import {
  parseJumpSpec,
  parseSshConfig,
  resolveSshHost,
  type IncludeReader,
} from '../../main/engine/tunnels/sshConfig.js';

const HOME = '/home/ana';
const noIncludes: IncludeReader = () => [];

function resolve(alias: string, text: string, reader: IncludeReader = noIncludes) {
  return resolveSshHost(alias, text, HOME, reader);
}

describe('parseSshConfig', () => {
  it('splits keyword and arguments: case, `=`, quotes, comments', () => {
    const text = [
      '# a comment',
      '',
      'Host bastion "with space" !nope',
      '  HostName=bastion.example.com',
      '  USER = deploy',
      '\tIdentityFile "~/.ssh/my key"   # trailing comment',
      "  IdentityFile '/keys/it''s'",
      '  Port',
      '  Broken "unclosed',
    ].join('\n');
    expect(parseSshConfig(text)).toEqual([
      { keyword: 'host', args: ['bastion', 'with space', '!nope'], line: 3 },
      { keyword: 'hostname', args: ['bastion.example.com'], line: 4 },
      { keyword: 'user', args: ['deploy'], line: 5 },
      { keyword: 'identityfile', args: ['~/.ssh/my key'], line: 6 },
      { keyword: 'identityfile', args: ['/keys/its'], line: 7 },
    ]);
  });
});

describe('resolveSshHost', () => {
  it('resolves an alias with HostName, User, Port, IdentityFile and ProxyJump', () => {
    const text = `
Host redis-dc1
    HostName 10.20.0.5
    User ops
    Port 2222
    IdentityFile ~/.ssh/dc1_ed25519
    ProxyJump jump@gw.example.com:2200
`;
    expect(resolve('redis-dc1', text)).toEqual({
      hostName: '10.20.0.5',
      user: 'ops',
      port: 2222,
      identityFiles: ['/home/ana/.ssh/dc1_ed25519'],
      proxyJump: 'jump@gw.example.com:2200',
      matched: true,
    });
  });

  it('returns nothing set for an alias no block names', () => {
    const text = 'Host other\n  HostName 1.2.3.4\n';
    expect(resolve('redis-dc1', text)).toEqual({ identityFiles: [], matched: false });
  });

  it('keeps the first value of each keyword across matching blocks; IdentityFile accumulates', () => {
    const text = `
Host db-*
  User first
  IdentityFile ~/.ssh/a
Host db-1
  User second
  HostName db1.internal
  Port 2201
  IdentityFile ~/.ssh/b
  IdentityFile /abs/c
  IdentityFile ~/.ssh/a
Host *
  User fallback
  Port 22
  HostName nope
  IdentityFile ~/.ssh/id_ed25519
`;
    expect(resolve('db-1', text)).toEqual({
      hostName: 'db1.internal',
      user: 'first',
      port: 2201,
      identityFiles: ['/home/ana/.ssh/a', '/home/ana/.ssh/b', '/abs/c', '/home/ana/.ssh/id_ed25519'],
      matched: true,
    });
  });

  it('applies lines before any Host to every alias, and Host * defaults without counting as a match', () => {
    const text = `
User everyone
Host *
  Port 2022
  IdentityFile ~/.ssh/default
`;
    expect(resolve('anything', text)).toEqual({
      user: 'everyone',
      port: 2022,
      identityFiles: ['/home/ana/.ssh/default'],
      matched: false,
    });
  });

  it('skips Match blocks until the next Host', () => {
    const text = `
Match host box exec "true"
  User from-match
  HostName from-match
Host box
  User real
Match all
  Port 9999
`;
    expect(resolve('box', text)).toEqual({ user: 'real', identityFiles: [], matched: true });
  });

  it('honours negated and wildcard patterns', () => {
    const text = `
Host *.prod !legacy.prod
  User produser
Host cache?.prod
  Port 2200
Host legacy.prod
  Port 2300
`;
    expect(resolve('cache1.prod', text)).toMatchObject({ user: 'produser', port: 2200, matched: true });
    expect(resolve('cache12.prod', text)).toMatchObject({ user: 'produser', matched: true });
    expect(resolve('cache12.prod', text).port).toBeUndefined();
    const legacy = resolve('legacy.prod', text);
    expect(legacy.user).toBeUndefined();
    expect(legacy.port).toBe(2300);
    // A line with only a negation never matches.
    expect(resolve('x', 'Host !y\n  User u\n')).toEqual({ identityFiles: [], matched: false });
  });

  it('accepts `=` syntax, case-insensitive keywords and quoted values', () => {
    const text = `
host=box
  HOSTNAME=box.example.com
  user = "deploy"
  identityfile "~/.ssh/key with space"
  port=2022
`;
    expect(resolve('box', text)).toEqual({
      hostName: 'box.example.com',
      user: 'deploy',
      port: 2022,
      identityFiles: ['/home/ana/.ssh/key with space'],
      matched: true,
    });
  });

  it('expands %h, %u, %r, %p, %% in IdentityFile and %h in HostName', () => {
    const text = `
Host box
  HostName %h.example.com
  User ops
  IdentityFile ~/.ssh/%h_%u_%r_%p_100%%
`;
    expect(resolve('box', text).identityFiles).toEqual(['/home/ana/.ssh/box.example.com_ops_ops_22_100%']);
    // Without HostName, %h is the alias; without User, %u/%r stay as written.
    expect(resolve('other', 'Host other\n  Port 2200\n  IdentityFile /k/%h-%u-%r-%p\n').identityFiles).toEqual([
      '/k/other-%u-%r-2200',
    ]);
  });

  it('treats ProxyJump none as no jump, and it wins like any first value', () => {
    const text = `
Host inside
  ProxyJump none
Host *
  ProxyJump gw.example.com
`;
    expect(resolve('inside', text).proxyJump).toBeUndefined();
    expect(resolve('elsewhere', text).proxyJump).toBe('gw.example.com');
  });

  it('ignores an invalid Port', () => {
    expect(resolve('a', 'Host a\n  Port http\n  Port 70000\nHost *\n  Port 2022\n').port).toBe(2022);
  });

  it('follows Include (absolute, relative to ~/.ssh, ~), scoped to the enclosing Host', () => {
    const files: Record<string, string> = {
      '/home/ana/.ssh/config.d/work': 'Host work\n  HostName work.example.com\nHost *\n  User from-include\n',
      '/etc/ssh/extra': 'Port 2200\n',
      '/home/ana/inc': 'IdentityFile ~/.ssh/inc\n',
    };
    const seen: string[] = [];
    const reader: IncludeReader = (p) => {
      seen.push(p);
      return files[p] !== undefined ? [{ path: p, text: files[p] }] : [];
    };
    const text = `
Include config.d/work
Host work
  Include /etc/ssh/extra ~/inc
Host other
  Include /never/read
Host *
  User last
`;
    expect(resolve('work', text, reader)).toEqual({
      hostName: 'work.example.com',
      user: 'from-include',
      port: 2200,
      identityFiles: ['/home/ana/.ssh/inc'],
      matched: true,
    });
    expect(seen).toEqual(['/home/ana/.ssh/config.d/work', '/etc/ssh/extra', '/home/ana/inc']);
  });

  it('stops at runaway Include recursion', () => {
    const reader: IncludeReader = (p) => [{ path: p, text: 'Include /loop\nIdentityFile /k\n' }];
    expect(resolve('a', 'Include /loop\n', reader).identityFiles).toEqual(['/k']);
  });
});

describe('parseJumpSpec', () => {
  it('parses host, user@host, host:port and lists', () => {
    expect(parseJumpSpec('gw')).toEqual([{ host: 'gw' }]);
    expect(parseJumpSpec('ops@gw.example.com:2200')).toEqual([{ user: 'ops', host: 'gw.example.com', port: 2200 }]);
    expect(parseJumpSpec('a@first, second:2022 ,third')).toEqual([
      { user: 'a', host: 'first' },
      { host: 'second', port: 2022 },
      { host: 'third' },
    ]);
  });

  it('parses ssh:// URIs and bracketed IPv6', () => {
    expect(parseJumpSpec('ssh://ops@gw:2200')).toEqual([{ user: 'ops', host: 'gw', port: 2200 }]);
    expect(parseJumpSpec('SSH://gw/')).toEqual([{ host: 'gw' }]);
    expect(parseJumpSpec('[fd00::1]:2222')).toEqual([{ host: 'fd00::1', port: 2222 }]);
    expect(parseJumpSpec('ops@[fd00::1]')).toEqual([{ user: 'ops', host: 'fd00::1' }]);
    expect(parseJumpSpec('fd00::1')).toEqual([{ host: 'fd00::1' }]);
  });

  it('returns no hops for none, and rejects malformed specs', () => {
    expect(parseJumpSpec('none')).toEqual([]);
    expect(() => parseJumpSpec('gw:http')).toThrow(/invalid ProxyJump "gw:http": bad port/);
    expect(() => parseJumpSpec('gw:0')).toThrow(/bad port/);
    expect(() => parseJumpSpec('a,,b')).toThrow(/no host/);
    expect(() => parseJumpSpec('@gw')).toThrow(/empty user/);
    expect(() => parseJumpSpec('[fd00::1')).toThrow(/missing "]"/);
    expect(() => parseJumpSpec('[fd00::1]x')).toThrow(/unexpected/);
  });
});
