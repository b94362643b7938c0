import crypto from 'node:crypto';
import { PROBED_COMMANDS, type CommandAvailability, type EndpointFacts } from '../../../shared/plan.js';
import { Endpoint, type EndpointSpec } from '../endpoints/endpoint.js';
import { EndpointError } from '../endpoints/endpointError.js';
import { parseRedisUrl } from '../endpoints/redisUrl.js';
import { parseInfo } from '../endpoints/serverFacts.js';
import type { Arg } from '../resp/commandEncoder.js';
import { RedisConnection } from '../resp/connection.js';
import { CONNECTION_LOST, ReplyError, replyArray, replyText, type Reply } from '../resp/reply.js';
import { decide } from './endpointDecisions.js';

/** What probing one endpoint found. */
export interface EndpointProbe {
  facts: EndpointFacts;
  /** The open endpoint, for the rest of the plan; null when it could not be reached. */
  endpoint: Endpoint | null;
  /** How each command's availability was found (e.g. "ACL DRYRUN: OK"), for logs and tests. */
  evidence: Record<string, string>;
}

const PINGS = 5;
/** A probe step that gets no answer within this time is inconclusive (a proxy may swallow it). */
const STEP_TIMEOUT_MS = 5_000;
/** Not a DUMP payload: too short for the version and CRC64 trailer, so RESTORE refuses it unread. */
const INVALID_PAYLOAD = Buffer.from('ferry-probe');

type Probed = (typeof PROBED_COMMANDS)[number];
type Verdict = CommandAvailability | null;

/**
 * The endpoint facts of the dry run, found without writing anything.
 *
 * Which commands an endpoint allows is found in layers, each used only where the one before it
 * could not answer, and none of which runs a command that changes data (measured on Redis 7.0):
 *
 * 1. `COMMAND INFO`: a command renamed or disabled (`rename-command X ""`) is absent → refused.
 * 2. Read commands are simply run, harmlessly: `DUMP` and `MEMORY USAGE` of a key that does not
 *    exist, `SCAN 0 COUNT 1`, `CONFIG GET notify-keyspace-events`.
 * 3. The others (SYNC, PSYNC, REPLICAOF, MIGRATE, RESTORE) are never run:
 *    a. `ACL DRYRUN <ACL WHOAMI> …` (Redis 7.0+, when the user may run it): OK or "no permissions".
 *    b. Queued inside `MULTI` and thrown away with `DISCARD`: Redis checks existence, arity and ACL
 *       when it queues, then discards; QUEUED means allowed. SYNC and PSYNC are `no_multi` in 7.0,
 *       and that check comes before the ACL check, so they are inconclusive here.
 *    c. Sent on a connection in RESP2 subscribed mode: Redis checks the ACL *before* refusing
 *       everything but (P|S)SUBSCRIBE/PING/QUIT/RESET "in this context", so that refusal means
 *       allowed and NOPERM means refused. Used only after a harmless `ECHO` got the same refusal
 *       (the server or proxy enforces the context), and only when the user may subscribe at all
 *       (ACL users of 7.0 have no channels unless given `&…`).
 *    d. RESTORE only: RESTORE of an invalid payload into a key that does not exist fails the
 *       checksum before anything is written (BUSYKEY if it existed). It is a write command and
 *       counts as a (failed) call in INFO commandstats, so it is the last resort.
 *    What none of these can answer stays 'unknown'.
 *
 * Refusals by NOPERM are recorded in the server's ACL LOG, like any refused command.
 */
export async function probeEndpoint(spec: EndpointSpec): Promise<EndpointProbe> {
  const address = addressOf(spec.url);
  let endpoint: Endpoint;
  try {
    endpoint = await Endpoint.open(spec);
  } catch (err) {
    return { facts: unreachable(spec, address, messageOf(err, spec.url, `${spec.role} ${spec.name}`)), endpoint: null, evidence: {} };
  }
  try {
    const { facts, evidence } = await probeOpen(spec, endpoint);
    return { facts, endpoint, evidence };
  } catch (err) {
    endpoint.close();
    return { facts: unreachable(spec, address, messageOf(err, spec.url, endpoint.label)), endpoint: null, evidence: {} };
  }
}

async function probeOpen(spec: EndpointSpec, endpoint: Endpoint): Promise<{ facts: EndpointFacts; evidence: Record<string, string> }> {
  const home = endpoint.isCluster ? await endpoint.nodeConnection(endpoint.address.host, endpoint.address.port) : endpoint.dbConnection(endpoint.address.db);
  const rttMs = await medianRtt(home);
  const info = parseInfo(replyText(await home.call('INFO')));
  const memory = memoryOf(info);
  const probe = await probeCommands(endpoint, home);

  if ((memory.maxmemory === null || memory.maxmemoryPolicy === null) && probe.commands.CONFIG !== 'refused') {
    // INFO has both from Redis 4.0; older servers only tell by CONFIG GET.
    const maxmemory = await configGet(home, 'maxmemory');
    const policy = await configGet(home, 'maxmemory-policy');
    memory.maxmemory ??= maxmemory === null ? null : Number(maxmemory);
    memory.maxmemoryPolicy ??= policy;
  }

  let nodes: EndpointFacts['nodes'] = [];
  let keyspace = keyspaceOf(info);
  let usedMemory = memory.usedMemory;
  let maxmemory = memory.maxmemory;
  if (endpoint.isCluster) {
    const perNode = await Promise.all(endpoint.masters.map(async (node) => {
      const slots = node.slots.reduce((n, [from, to]) => n + to - from + 1, 0);
      const conn = await endpoint.nodeConnection(node.host, node.port);
      const nodeInfo = await conn.call('INFO').then(
        (reply) => parseInfo(replyText(reply)),
        (err: unknown) => (rethrowLost(err), new Map<string, string>()),
      );
      const m = memoryOf(nodeInfo);
      if (m.maxmemory === null && probe.commands.CONFIG !== 'refused') {
        const value = await configGet(conn, 'maxmemory');
        m.maxmemory = value === null ? null : Number(value);
      }
      return { address: hostPort(node.host, node.port), slots, usedMemory: m.usedMemory, maxmemory: m.maxmemory, keyspace: keyspaceOf(nodeInfo) };
    }));
    nodes = perNode.map(({ keyspace: _, ...node }) => node);
    keyspace = sumKeyspaces(perNode.map((n) => n.keyspace));
    usedMemory = sumOrNull(nodes.map((n) => n.usedMemory));
    // One master without a limit means no limit for the whole; an unknown one leaves it unknown.
    maxmemory = nodes.some((n) => n.maxmemory === 0) ? 0 : sumOrNull(nodes.map((n) => n.maxmemory));
  }

  const facts: EndpointFacts = {
    role: spec.role,
    name: spec.name,
    address: hostPort(endpoint.address.host, endpoint.address.port),
    reachable: true,
    rttMs,
    version: endpoint.facts.version,
    rdbVersion: endpoint.facts.rdbVersion,
    mode: endpoint.isCluster ? 'cluster' : 'standalone',
    nodes,
    usedMemory,
    maxmemory,
    maxmemoryPolicy: memory.maxmemoryPolicy,
    keyspace,
    commands: probe.commands,
    notifyKeyspaceEvents: probe.notifyKeyspaceEvents,
    decisions: [],
  };
  facts.decisions = decide(facts);
  return { facts, evidence: probe.evidence };
}

// ---------------------------------------------------------------------------------------------
// Commands

interface CommandProbe {
  commands: Record<string, CommandAvailability>;
  evidence: Record<string, string>;
  notifyKeyspaceEvents: string | null;
}

/** Arguments for the commands that are never run: harmless even if a server did run them. */
function guardedArgs(name: Probed, key: string, replicaof: string): Arg[] | null {
  switch (name) {
    case 'SYNC':
      return ['SYNC'];
    case 'PSYNC':
      return ['PSYNC', '?', '-1'];
    case 'REPLICAOF':
      // Run, this would fail on the port before touching replication (and is refused in a cluster).
      return [replicaof, '127.0.0.1', 'no-port'];
    case 'MIGRATE':
      // Run, this would fail on the timeout before connecting anywhere.
      return ['MIGRATE', '127.0.0.1', '1', key, '0', 'no-timeout'];
    case 'RESTORE':
      return ['RESTORE', key, '0', INVALID_PAYLOAD];
    default:
      return null;
  }
}

async function probeCommands(endpoint: Endpoint, home: RedisConnection): Promise<CommandProbe> {
  const key = `ferry:probe:${crypto.randomBytes(8).toString('hex')}`;
  const db = endpoint.isCluster ? 0 : endpoint.address.db;
  const commands: Record<string, CommandAvailability> = {};
  const evidence: Record<string, string> = {};
  const settle = (name: string, verdict: CommandAvailability, how: string) => {
    commands[name] = verdict;
    evidence[name] = how;
  };

  // 1. Presence. Old servers (< 5.0) know REPLICAOF as SLAVEOF.
  const presence = await commandPresence(home, [...PROBED_COMMANDS, 'SLAVEOF']);
  const replicaof = presence?.get('REPLICAOF') === null && presence.get('SLAVEOF') ? 'SLAVEOF' : 'REPLICAOF';
  const flagsOf = (name: Probed) => presence?.get(name === 'REPLICAOF' ? replicaof : name);
  for (const name of PROBED_COMMANDS) {
    if (flagsOf(name) === null) settle(name, 'refused', 'absent from COMMAND INFO (renamed or disabled)');
  }
  const open = (name: Probed) => !(name in commands);

  // 2. Read commands: run harmlessly.
  let notifyKeyspaceEvents: string | null = null;
  const reads: Array<[Probed, () => Promise<Reply>]> = [
    ['DUMP', () => endpoint.call(db, Buffer.from(key), 'DUMP', key)],
    ['MEMORY', () => endpoint.call(db, Buffer.from(key), 'MEMORY', 'USAGE', key)],
    ['SCAN', () => home.call('SCAN', '0', 'COUNT', '1')],
    ['CONFIG', () => home.call('CONFIG', 'GET', 'notify-keyspace-events')],
  ];
  for (const [name, run] of reads) {
    if (!open(name)) continue;
    try {
      const reply = await run();
      settle(name, 'allowed', 'ran harmlessly');
      if (name === 'CONFIG') {
        const pair = replyArray(reply);
        notifyKeyspaceEvents = pair.length >= 2 ? replyText(pair[1]) : null;
      }
    } catch (err) {
      const verdict = refusalVerdict(rethrowLost(err));
      settle(name, verdict ?? 'unknown', `ran harmlessly: ${(err as Error).message}`);
    }
  }

  // 3. Commands that are never run.
  const guarded = PROBED_COMMANDS.filter((name) => open(name) && guardedArgs(name, key, replicaof));
  const argsOf = (name: Probed) => guardedArgs(name, key, replicaof)!;

  // 3a. ACL DRYRUN as ourselves.
  const user = guarded.length > 0 ? await home.call('ACL', 'WHOAMI').then(replyText, (err: unknown) => (rethrowLost(err), null)) : null;
  if (user !== null) {
    for (const name of guarded) {
      let reply: Reply;
      try {
        reply = await home.call('ACL', 'DRYRUN', user, ...argsOf(name));
      } catch (err) {
        const e = rethrowLost(err);
        if (/command .* not found/i.test(e.message)) {
          settle(name, 'refused', `ACL DRYRUN: ${e.message}`);
          continue;
        }
        if (/wrong number of arguments/i.test(e.message)) continue;
        break; // DRYRUN itself is refused (or is older than 7.0): the next layer decides.
      }
      const text = replyText(reply);
      if (text === 'OK') settle(name, 'allowed', 'ACL DRYRUN: OK');
      else if (/permissions to access .* key/i.test(text)) settle(name, 'allowed', `ACL DRYRUN: ${text} (the command itself is permitted)`);
      else if (/no permissions/i.test(text)) settle(name, 'refused', `ACL DRYRUN: ${text}`);
    }
  }

  // 3b. Queued in MULTI, then DISCARDed.
  // `no_multi` commands (SYNC, PSYNC in 7.0) are refused in MULTI before the ACL is asked.
  const forMulti = guarded.filter((name) => open(name) && !flagsOf(name)?.includes('no_multi'));
  if (forMulti.length > 0) {
    await withSideConnection(endpoint, async (side) => {
      if ((await step(side.call('MULTI'))) !== 'OK') return;
      const replies = await Promise.all(forMulti.map((name) => step(side.call(...argsOf(name)))));
      await step(side.call('DISCARD'));
      forMulti.forEach((name, i) => {
        const reply = replies[i];
        const verdict = reply === 'QUEUED' ? 'allowed' : reply instanceof ReplyError ? refusalVerdict(reply) : null;
        if (verdict) settle(name, verdict, `queued in MULTI, then DISCARD: ${reply instanceof ReplyError ? reply.message : String(reply)}`);
      });
    });
  }

  // 3c. Sent in RESP2 subscribed mode, where the ACL check comes before the context refusal.
  const forPubsub = guarded.filter(open);
  if (forPubsub.length > 0) {
    await withSideConnection(endpoint, async (side) => {
      const channel = `ferry:probe:${crypto.randomBytes(8).toString('hex')}`;
      const subscribed = await step(side.call('SUBSCRIBE', channel));
      if (!Array.isArray(subscribed) || replyText(subscribed[0]).toLowerCase() !== 'subscribe') return;
      const echo = await step(side.call('ECHO', 'ferry'));
      if (!(echo instanceof ReplyError && IN_CONTEXT.test(echo.message))) return;
      for (const name of forPubsub) {
        const reply = await step(side.call(...argsOf(name)));
        // A real answer would mean the command ran after all: stop at once.
        if (!(reply instanceof ReplyError)) return;
        const verdict = IN_CONTEXT.test(reply.message) ? 'allowed' : refusalVerdict(reply);
        if (verdict) settle(name, verdict, `sent while subscribed: ${reply.message}`);
      }
    });
  }

  // 3d. RESTORE of an invalid payload: refused by its checksum before anything is written.
  if (open('RESTORE')) {
    try {
      await endpoint.call(db, Buffer.from(key), ...argsOf('RESTORE'));
      settle('RESTORE', 'allowed', 'invalid payload accepted?');
    } catch (err) {
      const e = rethrowLost(err);
      const verdict = /payload version or checksum|bad data format/i.test(e.message) || e.code === 'BUSYKEY' ? 'allowed' : refusalVerdict(e);
      if (verdict) settle('RESTORE', verdict, `RESTORE of an invalid payload: ${e.message}`);
    }
  }

  for (const name of PROBED_COMMANDS) if (open(name)) settle(name, 'unknown', 'no harmless way to tell');
  // In the contract's order, whichever layer settled them.
  return {
    commands: Object.fromEntries(PROBED_COMMANDS.map((name) => [name, commands[name]])),
    evidence: Object.fromEntries(PROBED_COMMANDS.map((name) => [name, evidence[name]])),
    notifyKeyspaceEvents,
  };
}

const IN_CONTEXT = /allowed in this context/i;

/**
 * What a refusal says about a command, when Redis checked existence and ACL before refusing.
 * Replies Redis gives only after the ACL check (cluster redirects, OOM, loading…) mean the user
 * may run it. A NOPERM about a key means the command is permitted but the probe key's name is not.
 */
function refusalVerdict(err: ReplyError): Verdict {
  const msg = err.message;
  if (err.code === 'NOPERM') return /\bkeys?\b/i.test(msg) && !/command/i.test(msg) ? 'allowed' : 'refused';
  if (/unknown command|unknown subcommand/i.test(msg)) return 'refused';
  if (err.code === 'READONLY') return 'refused';
  if (['MOVED', 'ASK', 'CROSSSLOT', 'TRYAGAIN', 'OOM', 'MISCONF', 'NOREPLICAS', 'LOADING', 'BUSY', 'MASTERDOWN'].includes(err.code)) return 'allowed';
  return null;
}

/**
 * Which of `names` the server knows, by COMMAND INFO: each one's flags, or null when it is absent.
 * Undefined when COMMAND itself is refused (or older than 2.8.13).
 */
async function commandPresence(conn: RedisConnection, names: string[]): Promise<Map<string, string[] | null> | undefined> {
  try {
    const reply = replyArray(await conn.call('COMMAND', 'INFO', ...names));
    return new Map(
      names.map((name, i) => {
        const entry = reply[i];
        if (!Array.isArray(entry)) return [name, null];
        const flags = Array.isArray(entry[2]) ? entry[2].map((f) => replyText(f).toLowerCase()) : [];
        return [name, flags];
      }),
    );
  } catch (err) {
    rethrowLost(err);
    return undefined;
  }
}

/**
 * A connection of its own for the MULTI and subscribe probes, closed afterwards: the endpoint's
 * connections stay as they were. Nothing happens when it cannot be opened.
 */
async function withSideConnection(endpoint: Endpoint, use: (conn: RedisConnection) => Promise<void>): Promise<void> {
  const { host, port, username, password, tls } = endpoint.address;
  let conn: RedisConnection;
  try {
    conn = await RedisConnection.connect({ host, port, tls, label: endpoint.label, connectTimeoutMs: STEP_TIMEOUT_MS });
  } catch {
    return;
  }
  try {
    if (password !== undefined || username !== undefined) {
      const auth = await step(username ? conn.call('AUTH', username, password ?? '') : conn.call('AUTH', password ?? ''));
      if (auth instanceof ReplyError && !/without any password configured/i.test(auth.message)) return;
    }
    await use(conn);
  } finally {
    conn.close();
  }
}

/** One probe step's reply, an error reply as a value; a timeout or a lost connection as an error value too. */
async function step(pending: Promise<Reply>): Promise<Reply> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Reply>((resolve) => {
    timer = setTimeout(() => resolve(new ReplyError('FERRY_TIMEOUT no answer', 'FERRY_TIMEOUT')), STEP_TIMEOUT_MS);
  });
  try {
    return await Promise.race([pending.catch((err: unknown) => (err instanceof ReplyError ? err : new ReplyError(String(err)))), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Returns a server's error reply; a lost connection (or anything else) ends the probe. */
function rethrowLost(err: unknown): ReplyError {
  if (err instanceof ReplyError && err.code !== CONNECTION_LOST) return err;
  throw err;
}

async function configGet(conn: RedisConnection, name: string): Promise<string | null> {
  try {
    const pair = replyArray(await conn.call('CONFIG', 'GET', name));
    return pair.length >= 2 ? replyText(pair[1]) : null;
  } catch (err) {
    rethrowLost(err);
    return null;
  }
}

// ---------------------------------------------------------------------------------------------
// INFO

async function medianRtt(conn: RedisConnection): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const start = process.hrtime.bigint();
    await conn.call('PING');
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  times.sort((a, b) => a - b);
  const median = times[Math.floor(PINGS / 2)];
  return Math.max(Math.round(median * 1000) / 1000, 0.001);
}

function memoryOf(info: Map<string, string>): { usedMemory: number | null; maxmemory: number | null; maxmemoryPolicy: string | null } {
  const num = (name: string) => {
    const value = info.get(name);
    return value === undefined || value === '' || Number.isNaN(Number(value)) ? null : Number(value);
  };
  return { usedMemory: num('used_memory'), maxmemory: num('maxmemory'), maxmemoryPolicy: info.get('maxmemory_policy') ?? null };
}

function keyspaceOf(info: Map<string, string>): EndpointFacts['keyspace'] {
  const out: EndpointFacts['keyspace'] = [];
  for (const [name, value] of info) {
    const db = /^db(\d+)$/.exec(name);
    if (!db) continue;
    const match = (f: string) => new RegExp(`(?:^|,)${f}=(\\d+)`).exec(value)?.[1];
    const field = (f: string) => Number(match(f) ?? 0);
    // subexpiry (Redis 7.4+): keys with hash fields that have their own TTL.
    const subexpiry = match('subexpiry');
    out.push({ db: Number(db[1]), keys: field('keys'), expires: field('expires'), ...(subexpiry !== undefined ? { subexpiry: Number(subexpiry) } : {}) });
  }
  return out.sort((a, b) => a.db - b.db);
}

function sumKeyspaces(all: Array<EndpointFacts['keyspace']>): EndpointFacts['keyspace'] {
  const byDb = new Map<number, EndpointFacts['keyspace'][number]>();
  for (const keyspace of all) {
    for (const { db, keys, expires, subexpiry } of keyspace) {
      const entry = byDb.get(db) ?? { db, keys: 0, expires: 0 };
      entry.keys += keys;
      entry.expires += expires;
      if (subexpiry !== undefined) entry.subexpiry = (entry.subexpiry ?? 0) + subexpiry;
      byDb.set(db, entry);
    }
  }
  return [...byDb.values()].sort((a, b) => a.db - b.db);
}

function sumOrNull(values: Array<number | null>): number | null {
  return values.some((v) => v === null) ? null : values.reduce<number>((a, b) => a + (b ?? 0), 0);
}

// ---------------------------------------------------------------------------------------------
// Unreachable

function unreachable(spec: EndpointSpec, address: string, error: string): EndpointFacts {
  const facts: EndpointFacts = {
    role: spec.role,
    name: spec.name,
    address,
    reachable: false,
    error,
    rttMs: null,
    version: null,
    rdbVersion: null,
    mode: null,
    nodes: [],
    usedMemory: null,
    maxmemory: null,
    maxmemoryPolicy: null,
    keyspace: [],
    commands: Object.fromEntries(PROBED_COMMANDS.map((name) => [name, 'unknown' as const])),
    notifyKeyspaceEvents: null,
    decisions: [],
  };
  facts.decisions = decide(facts);
  return facts;
}

function hostPort(host: string, port: number): string {
  return `${host.includes(':') ? `[${host}]` : host}:${port}`;
}

/** host:port of a URL, never its password; "(bad URL)" when it cannot be read. */
function addressOf(url: string): string {
  try {
    const address = parseRedisUrl(url);
    return hostPort(address.host, address.port);
  } catch {
    return '(bad URL)';
  }
}

/** The message of why an endpoint failed; never contains the URL's password. */
function messageOf(err: unknown, url: string, label?: string): string {
  let message = err instanceof EndpointError ? err.message : `${label ?? 'endpoint'}: ${err instanceof Error ? err.message : String(err)}`;
  let password: string | undefined;
  try {
    password = parseRedisUrl(url).password;
  } catch {
    password = undefined;
  }
  if (password) message = message.split(password).join('***');
  return message;
}
