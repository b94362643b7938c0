import { FerryCallError, type CallError } from '../../../shared/api.js';

const CODES: ReadonlyArray<CallError['code']> = ['bad-input', 'failed', 'cancelled', 'unknown-host-key'];

/**
 * Any rejection as a FerryCallError. Errors that crossed Electron's contextBridge lose their class
 * (and sometimes their own properties), so the code is read from whatever survived.
 */
export function toFerryCallError(err: unknown): FerryCallError {
  if (err instanceof FerryCallError) return err;
  if (typeof err === 'object' && err !== null) {
    const { message, code } = err as { message?: unknown; code?: unknown };
    const text = typeof message === 'string' ? message : String(err);
    const known = typeof code === 'string' && (CODES as readonly string[]).includes(code) ? (code as CallError['code']) : undefined;
    if (known) return new FerryCallError(text, known);
    if (err instanceof Error && err.name === 'AbortError') return new FerryCallError(text, 'cancelled');
    return new FerryCallError(text, 'failed');
  }
  return new FerryCallError(String(err), 'failed');
}

/** The message to show for a failed call. */
export function errorMessage(err: unknown): string {
  return toFerryCallError(err).message;
}
