import { z } from 'zod';
import type { CallError } from '../../shared/api.js';
import { JobFileError } from '../engine/job/loadJob.js';
import { ResumeError } from '../engine/run/migration.js';
import { UnsupportedError } from '../engine/run/openEndpoints.js';
import { TunnelError } from '../engine/tunnels/sshTunnel.js';

/** A request the host refuses as asked (an unknown run, a file that is not a job...): the caller fixes it. */
export class BadInputError extends Error {
  override readonly name = 'BadInputError';
}

/** The call was cancelled by its caller. */
export class CancelledError extends Error {
  override readonly name = 'AbortError';

  constructor(message = 'cancelled') {
    super(message);
  }
}

/** What the UI should do about an error, as the contract's code. */
export function errorCodeOf(err: unknown): CallError['code'] {
  if (err instanceof TunnelError && err.unknownHostKey) return 'unknown-host-key';
  if (err instanceof Error && err.name === 'AbortError') return 'cancelled';
  const badInput =
    err instanceof BadInputError ||
    err instanceof JobFileError ||
    err instanceof ResumeError ||
    err instanceof UnsupportedError ||
    err instanceof z.ZodError ||
    // The CLI's usage errors, should one reach a handler.
    (err instanceof Error && err.name === 'UsageError');
  return badInput ? 'bad-input' : 'failed';
}
