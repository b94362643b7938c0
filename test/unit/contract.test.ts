// The UI contract's surface, as JSON Schema: a change to any call's input or output, to the event
// kinds, error codes or IPC names shows up here, so it is made on purpose (renderer and both doors
// follow shared/api.ts).
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { AppEvent, CALLS, CallError, IPC, isCallName } from '../../shared/api.js';

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => z.toJSONSchema(schema, { unrepresentable: 'any', io });

describe('the UI contract (shared/api.ts)', () => {
  it('every call: its input and output schemas', () => {
    const calls = Object.fromEntries(
      Object.entries(CALLS).map(([name, { input, output }]) => [name, { input: jsonSchema(input, 'input'), output: jsonSchema(output, 'output') }]),
    );
    expect(calls).toMatchSnapshot();
  });

  it('event kinds, error codes, IPC channel names', () => {
    expect({
      eventKinds: AppEvent.shape.kind.options,
      errorCodes: CallError.shape.code.options,
      ipc: IPC,
    }).toMatchSnapshot();
  });

  it('isCallName knows exactly the table', () => {
    for (const name of Object.keys(CALLS)) expect(isCallName(name)).toBe(true);
    for (const name of ['toString', '__proto__', 'constructor', 'run', '']) expect(isCallName(name)).toBe(false);
  });
});
