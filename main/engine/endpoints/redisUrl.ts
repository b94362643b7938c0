import fs from 'node:fs';
import os from 'node:os';
import type tls from 'node:tls';

/** What a `redis://` or `rediss://` URL says about how to reach a server. */
export interface RedisAddress {
  host: string;
  port: number;
  /** The db in the URL's path, 0 when there is none (see `dbInPath`). */
  db: number;
  /** Whether the URL names a db: a source then reads only that db, a target writes unmapped dbs there. */
  dbInPath: boolean;
  username?: string;
  password?: string;
  tls?: tls.ConnectionOptions;
}

/**
 * Parses `redis[s]://[user[:password]@]host[:port][/db][?ca=&cert=&key=&servername=&insecure=true]`.
 * TLS query options name PEM files; `insecure=true` skips certificate checks (a self-signed test server).
 */
export function parseRedisUrl(text: string): RedisAddress {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error('not a URL; expected redis://[user:password@]host:port[/db]');
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') throw new Error(`expected redis:// or rediss://, got ${url.protocol}//`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (!host) throw new Error('the URL has no host');
  const port = url.port ? Number(url.port) : 6379;
  const dbText = url.pathname.replace(/^\//, '');
  if (dbText && !/^\d+$/.test(dbText)) throw new Error(`the database in the URL path must be a number, got "${dbText}"`);
  const address: RedisAddress = {
    host,
    port,
    db: dbText ? Number(dbText) : 0,
    dbInPath: dbText !== '',
    username: url.username ? decodeURIComponent(url.username) : undefined,
    password: url.password ? decodeURIComponent(url.password) : undefined,
  };
  const params = url.searchParams;
  for (const name of params.keys()) {
    if (!['ca', 'cert', 'key', 'servername', 'insecure'].includes(name)) throw new Error(`unknown URL option "${name}" (known: ca, cert, key, servername, insecure)`);
  }
  if (url.protocol === 'rediss:') {
    const options: tls.ConnectionOptions = {};
    const file = (name: string) => {
      const value = params.get(name);
      return value ? fs.readFileSync(value.replace(/^~(?=\/)/, os.homedir())) : undefined;
    };
    options.ca = file('ca');
    options.cert = file('cert');
    options.key = file('key');
    if (params.get('servername')) options.servername = params.get('servername')!;
    if (params.get('insecure') === 'true') options.rejectUnauthorized = false;
    address.tls = options;
  } else if ([...params.keys()].length > 0) {
    throw new Error('TLS options need a rediss:// URL');
  }
  return address;
}
