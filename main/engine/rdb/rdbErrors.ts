/**
 * What kind of problem an RdbError reports: callers may react differently to a damaged file
 * (`corrupt`, `truncated`, `checksum`), a valid file Ferry cannot read (`unsupported`), a value over
 * a configured limit (`limit`), or a parser bug (`internal`, which tests treat as a failure).
 */
export type RdbErrorCode = 'corrupt' | 'truncated' | 'checksum' | 'unsupported' | 'limit' | 'internal';

const PREFIX: Record<RdbErrorCode, string> = {
  corrupt: 'RDB data is corrupt',
  truncated: 'RDB data ends early',
  checksum: 'RDB checksum mismatch',
  unsupported: 'RDB data is not supported',
  limit: 'RDB data exceeds a limit',
  internal: 'RDB parser internal error',
};

/** The only error the RDB codec throws for bad input: where (byte offset) and what is wrong. */
export class RdbError extends Error {
  override readonly name = 'RdbError';

  constructor(
    /** Byte offset in the input (the file or the DUMP payload) where the problem was found. */
    readonly offset: number,
    /** What is wrong, without the offset. */
    readonly reason: string,
    readonly code: RdbErrorCode = 'corrupt',
  ) {
    super(`${PREFIX[code]} at offset ${offset}: ${reason}`);
  }
}

/**
 * Thrown (not an Error: no stack is captured) by a reader over partial input when a read runs past
 * the bytes received so far. Never escapes the codec: the file reader fetches more and retries.
 */
export class NeedMore {
  constructor(
    /** Absolute input offset up to which bytes are needed. */
    readonly upTo: number,
    /** Absolute input offset of the read that ran out, and what it was reading (for a limit error). */
    readonly at: number,
    readonly what: string,
  ) {}
}

/**
 * Passes RdbErrors through and wraps anything else (a parser bug, never expected) in one with code
 * 'internal', so callers only ever handle RdbError; tests treat 'internal' as a failure.
 */
export function asRdbError(e: unknown, offset: number): RdbError {
  if (e instanceof RdbError) return e;
  const what = e instanceof Error ? `${e.name}: ${e.message}` : String(e);
  const err = new RdbError(offset, what, 'internal');
  if (e instanceof Error) err.cause = e;
  return err;
}
