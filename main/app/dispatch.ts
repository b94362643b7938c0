// Turns a call as it arrives from a door (a name, an id, untrusted input) into an Envelope: input and
// output checked against the contract, errors mapped to CallError codes. Free of any transport, so
// the Electron IPC handler and the WebSocket server use it alike.
import { z } from 'zod';
import { CALLS, isCallName, type CallError, type CallName, type Envelope } from '../../shared/api.js';
import { formatPath } from '../../shared/job.js';
import { BadInputError, errorCodeOf } from './errors.js';
import type { CallContext, Handlers } from './handlers.js';

export interface Dispatcher {
  /** Runs one call; never rejects: every failure is an `{ ok: false }` envelope. */
  call(id: string, name: string, rawInput: unknown): Promise<Envelope>;
  /** Cancels the call with this id, if it is still running. */
  cancel(id: string): void;
  /** Cancels every call still running (the window or socket that made them is gone). */
  cancelAll(): void;
}

/** Handlers seen through the table's schemas, without the per-call types (checked by the schemas). */
type AnyHandler = (input: unknown, ctx: CallContext) => Promise<unknown>;

export function createDispatcher(handlers: Handlers): Dispatcher {
  const inFlight = new Map<string, AbortController>();
  return {
    async call(id, name, rawInput) {
      if (!isCallName(name)) return failure('bad-input', `unknown call ${JSON.stringify(name)}; the calls are: ${Object.keys(CALLS).join(', ')}`);
      if (inFlight.has(id)) return failure('bad-input', `call id ${JSON.stringify(id)} is already used by a call in progress; give every call its own id`);
      const controller = new AbortController();
      inFlight.set(id, controller);
      try {
        const value = await invoke(handlers, name, rawInput, { signal: controller.signal, callId: id });
        return { ok: true, value };
      } catch (err) {
        return { ok: false, error: callErrorOf(err, controller.signal) };
      } finally {
        inFlight.delete(id);
      }
    },
    cancel(id) {
      inFlight.get(id)?.abort();
    },
    cancelAll() {
      for (const controller of inFlight.values()) controller.abort();
    },
  };
}

async function invoke(handlers: Handlers, name: CallName, rawInput: unknown, ctx: CallContext): Promise<unknown> {
  const schemas: { input: z.ZodType; output: z.ZodType } = CALLS[name];
  const input = schemas.input.safeParse(rawInput);
  if (!input.success) throw new BadInputError(`bad input for ${name}: ${describeIssues(input.error)}`);
  const result = await (handlers[name] as AnyHandler)(input.data, ctx);
  // The output is checked too: the UI gets exactly the contract's shape, and nothing more.
  const output = schemas.output.safeParse(result);
  if (!output.success) throw new Error(`Ferry produced an invalid result for ${name} (${describeIssues(output.error)}); this is a bug in Ferry, please report it`);
  return output.data;
}

/** "sample: Invalid input: expected number, received string; yaml: …" — the field first. Values are never echoed. */
function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `${issue.path.length > 0 ? formatPath(issue.path) : 'input'}: ${issue.message}`).join('; ');
}

function failure(code: CallError['code'], message: string): Envelope {
  return { ok: false, error: { code, message } };
}

/** The code tells the UI what to do next; the message is the error's own, never its stack. */
function callErrorOf(err: unknown, signal: AbortSignal): CallError {
  const message = (err instanceof Error ? err.message : String(err)) || 'the operation failed without saying why';
  const code = errorCodeOf(err);
  // A host key question stays one even when the caller has gone: it is what the user must answer.
  if (code === 'cancelled' || (signal.aborted && code !== 'unknown-host-key')) return { code: 'cancelled', message: 'cancelled' };
  return { code, message: err instanceof z.ZodError ? z.prettifyError(err) : message };
}
