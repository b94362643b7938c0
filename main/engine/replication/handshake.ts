import { ReplicationError } from './replicationError.js';
import type { SocketReader } from './socketReader.js';

/** Where a replica left off: the master's replication id and the last offset it processed. */
export interface ReplicationPosition {
  replid: string;
  offset: number;
}

export interface HandshakeOptions {
  label: string;
  username?: string;
  password?: string;
  /** Ask for a partial resync from here (PSYNC replid offset+1); absent: `PSYNC ? -1`. */
  resume?: ReplicationPosition;
  /** Sent as REPLCONF listening-port when set; Redis needs none (INFO then shows port=0). */
  listeningPort?: number;
}

/** What the master answered to PSYNC (or SYNC). */
export type HandshakeResult =
  | { mode: 'full'; replid: string; offset: number; replconf: boolean }
  | { mode: 'partial'; replid: string; offset: number; replidChanged: boolean; replconf: boolean }
  /** PSYNC was refused; SYNC was sent, its answer (the RDB or an error) follows. */
  | { mode: 'sync'; psyncError: string; replconf: boolean };

/** Replies here are one short line; anything longer means the framing is lost. */
const MAX_REPLY_LINE = 64 * 1024;

/**
 * The replica's side of the handshake (what redis-server does as a replica, replication.c
 * syncWithMaster): AUTH, REPLCONF capa eof capa psync2 (we read diskless `$EOF:` transfers and
 * `+CONTINUE <new replid>`), then PSYNC; a server that does not know PSYNC gets SYNC, as Redis does.
 * `replconf` in the result says whether the server knows REPLCONF, i.e. whether ACKs may be sent.
 */
export async function handshake(reader: SocketReader, write: (bytes: Buffer) => void, opts: HandshakeOptions): Promise<HandshakeResult> {
  const { label } = opts;
  const call = async (args: string[]): Promise<string> => {
    write(encodeCommand(args));
    return readReply(reader, label);
  };
  if (opts.password !== undefined || opts.username !== undefined) {
    const args = opts.username ? ['AUTH', opts.username, opts.password ?? ''] : ['AUTH', opts.password ?? ''];
    const reply = await call(args);
    // A password given to a server that needs none is harmless (as for other connections).
    if (reply.startsWith('-') && !/without any password configured/i.test(reply)) throw replyError(label, 'AUTH', reply);
  }
  if (opts.listeningPort !== undefined) {
    const reply = await call(['REPLCONF', 'listening-port', String(opts.listeningPort)]);
    if (isAuthError(reply)) throw replyError(label, 'REPLCONF', reply);
  }
  const capa = await call(['REPLCONF', 'capa', 'eof', 'capa', 'psync2']);
  // Servers before 2.8 do not know REPLCONF: go on, PSYNC or SYNC will tell.
  if (isAuthError(capa)) throw replyError(label, 'REPLCONF', capa);
  const replconf = !capa.startsWith('-');

  const psync = opts.resume ? ['PSYNC', opts.resume.replid, String(opts.resume.offset + 1)] : ['PSYNC', '?', '-1'];
  const reply = await call(psync);
  const words = reply.split(' ');
  if (words[0] === '+FULLRESYNC') {
    const offset = Number(words[2]);
    if (words.length !== 3 || !/^[0-9a-f]{40}$/i.test(words[1]) || !Number.isSafeInteger(offset) || offset < 0) {
      throw new ReplicationError('protocol', label, `a malformed PSYNC reply ${JSON.stringify(reply)}`);
    }
    return { mode: 'full', replid: words[1], offset, replconf };
  }
  if (words[0] === '+CONTINUE') {
    if (!opts.resume) throw new ReplicationError('protocol', label, `the server answered +CONTINUE to PSYNC ? -1`);
    // psync2: the master may have a new replid (after a failover) that goes on from the same offset.
    const replid = words[1] && /^[0-9a-f]{40}$/i.test(words[1]) ? words[1] : opts.resume.replid;
    return { mode: 'partial', replid, offset: opts.resume.offset, replidChanged: replid !== opts.resume.replid, replconf };
  }
  if (!reply.startsWith('-')) throw new ReplicationError('protocol', label, `an unexpected PSYNC reply ${JSON.stringify(reply.slice(0, 200))}`);
  // Worth retrying later, not a reason to drop to SYNC (Redis waits too).
  if (isAuthError(reply) || /^-(LOADING|NOMASTERLINK|MASTERDOWN)\b/.test(reply)) throw replyError(label, 'PSYNC', reply);
  // Any other refusal: the server may be older than 2.8, or have PSYNC renamed; try SYNC as Redis does.
  write(encodeCommand(['SYNC']));
  return { mode: 'sync', psyncError: reply.slice(1), replconf };
}

/** Reads one reply line, skipping the empty lines a master sends to keep a waiting replica alive. */
async function readReply(reader: SocketReader, label: string): Promise<string> {
  for (;;) {
    let line: string;
    try {
      line = await reader.readLine(MAX_REPLY_LINE);
    } catch (err) {
      if (err instanceof ReplicationError) throw err;
      throw new ReplicationError('protocol', label, `the server's reply during the replication handshake: ${(err as Error).message}`);
    }
    if (line !== '') return line;
  }
}

function isAuthError(reply: string): boolean {
  return /^-(NOAUTH|WRONGPASS)\b/.test(reply) || /^-ERR invalid (username-password|password)/i.test(reply);
}

/** A server's error reply during the handshake, as a typed error that says what to do. */
export function replyError(label: string, command: string, reply: string, earlier?: string): ReplicationError {
  const msg = reply.replace(/^-/, '');
  const also = earlier ? ` (PSYNC was refused first: ${earlier})` : '';
  if (/^NOAUTH\b/.test(msg)) return new ReplicationError('auth', label, `the server requires a password (${msg}); put the user and password in the source's URL (redis://user:PASSWORD@host:port)`);
  if (isAuthError(reply)) return new ReplicationError('auth', label, `authentication failed (${msg}); check the user and password in the source's URL`);
  if (/^LOADING\b/.test(msg)) return new ReplicationError('not-ready', label, `the server is loading its data (${msg}); try again when it has finished`);
  if (/^(NOMASTERLINK|MASTERDOWN)\b/.test(msg)) {
    return new ReplicationError('not-ready', label, `the server is a replica without a link to its own master (${msg}); try again once its master_link_status is up`);
  }
  if (/^NOPERM\b/.test(msg)) {
    return new ReplicationError('refused', label, `the user may not replicate (${command}: ${msg})${also}; grant +psync +sync +replconf in the ACL, or read this source with stage: direct`);
  }
  if (/unknown command/i.test(msg)) {
    return new ReplicationError(
      'refused',
      label,
      `the server refuses replication (${command}: ${msg})${also}; managed services (ElastiCache, cloud proxies) rename or disable PSYNC and SYNC: read this source with stage: direct, or from an RDB file`,
    );
  }
  return new ReplicationError('refused', label, `the server refused ${command} (${msg})${also}; read this source with stage: direct if it cannot replicate`);
}

/** RESP encoding of a command (the handshake and ACKs are a few short commands). */
export function encodeCommand(args: readonly string[]): Buffer {
  let text = `*${args.length}\r\n`;
  for (const a of args) text += `$${Buffer.byteLength(a)}\r\n${a}\r\n`;
  return Buffer.from(text);
}
