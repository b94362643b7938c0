/** A RESP2 reply as Ferry sees it: bulk strings stay bytes (Redis keys and values are bytes). */
export type Reply = Buffer | string | number | null | ReplyError | Reply[];

/** An error reply from the server (`-ERR ...`). It is a value, not a thrown exception, until a caller decides. */
export class ReplyError extends Error {
  /** The first word of the reply, e.g. `ERR`, `BUSYKEY`, `MOVED`, `NOAUTH`. */
  readonly code: string;
  constructor(message: string, code?: string) {
    super(message);
    this.name = 'ReplyError';
    const space = message.indexOf(' ');
    this.code = code ?? (space < 0 ? message : message.slice(0, space));
  }
}

/** Delivered to every waiting callback when the connection itself is lost: not the server's answer. */
export const CONNECTION_LOST = 'FERRY_CONNECTION_LOST';

export function isReplyError(reply: Reply): reply is ReplyError {
  return reply instanceof ReplyError;
}

/** Reads a bulk or simple string reply as text (for INFO, TYPE, cursors…). */
export function replyText(reply: Reply): string {
  if (Buffer.isBuffer(reply)) return reply.toString('utf8');
  if (typeof reply === 'string') return reply;
  if (typeof reply === 'number') return String(reply);
  if (reply === null) return '';
  if (reply instanceof ReplyError) throw reply;
  throw new TypeError('expected a string reply, got an array');
}

export function replyArray(reply: Reply): Reply[] {
  if (reply instanceof ReplyError) throw reply;
  if (!Array.isArray(reply)) throw new TypeError(`expected an array reply, got ${reply === null ? 'nil' : typeof reply}`);
  return reply;
}

export function replyNumber(reply: Reply): number {
  if (reply instanceof ReplyError) throw reply;
  if (typeof reply === 'number') return reply;
  if (Buffer.isBuffer(reply) || typeof reply === 'string') return Number(reply.toString());
  throw new TypeError('expected an integer reply');
}
