import { describe, expect, it } from 'vitest';
import { crc64, parseDumpPayload, RdbError, readRdb } from '../../main/engine/rdb/index.js';
import { corruptFiles, dumpPayload, loadRecords } from '../support/rdbFixtures.js';

/**
 * Mutation fuzzing: fixture DUMP payloads and a small RDB file, damaged in many small ways, must
 * parse or fail with an RdbError (never another error, code 'internal', a hang or a crash), each in
 * bounded time. Seeded: set RDB_FUZZ_SEED to replay or explore; failures print seed and case.
 */

const SEED = Number(process.env.RDB_FUZZ_SEED ?? 0x5eed_f3a7);
const DUMP_CASES = 80_000;
const FILE_CASES = 25_000;
const MAX_MS = 200;

/** mulberry32: small, fast, good enough to pick mutations. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Bytes that mean something in RDB data: length prefixes, encodings, opcodes, ends. */
const INTERESTING = [0x00, 0x01, 0x3f, 0x40, 0x7f, 0x80, 0x81, 0xbf, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xe0, 0xf0, 0xf4, 0xf5, 0xfe, 0xff];

function mutate(input: Buffer, rand: () => number): { bytes: Buffer; how: string } {
  const int = (n: number): number => Math.floor(rand() * n);
  const at = int(input.length);
  const kind = int(7);
  const b = Buffer.from(input);
  switch (kind) {
    case 0: {
      const flips = 1 + int(4);
      const where: number[] = [];
      for (let i = 0; i < flips; i++) {
        const p = int(b.length);
        b[p] ^= 1 << int(8);
        where.push(p);
      }
      return { bytes: b, how: `bit flips at ${where.join(',')}` };
    }
    case 1: {
      const v = rand() < 0.6 ? INTERESTING[int(INTERESTING.length)] : int(256);
      b[at] = v;
      return { bytes: b, how: `byte ${at} set to 0x${v.toString(16)}` };
    }
    case 2:
      return { bytes: b.subarray(0, at), how: `truncated to ${at}` };
    case 3: {
      const extra = Buffer.from(Array.from({ length: 1 + int(8) }, () => (rand() < 0.5 ? INTERESTING[int(INTERESTING.length)] : int(256))));
      return { bytes: Buffer.concat([b.subarray(0, at), extra, b.subarray(at)]), how: `inserted ${extra.toString('hex')} at ${at}` };
    }
    case 4: {
      // Length-field bump: nudge a byte, or widen it into a 32/64-bit length with a large value.
      const r = rand();
      if (r < 0.5) {
        const delta = (1 + int(16)) * (rand() < 0.5 ? -1 : 1);
        b[at] = (b[at] + delta) & 0xff;
        return { bytes: b, how: `byte ${at} bumped by ${delta}` };
      }
      const wide = r < 0.8 ? Buffer.from([0x80, int(256), int(256), int(256), int(256)]) : Buffer.from([0x81, ...Array.from({ length: 8 }, () => int(256))]);
      return { bytes: Buffer.concat([b.subarray(0, at), wide, b.subarray(at + 1)]), how: `byte ${at} replaced by length ${wide.toString('hex')}` };
    }
    case 5: {
      const n = 1 + int(16);
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(at + n)]), how: `deleted ${n} bytes at ${at}` };
    }
    default: {
      const n = 1 + int(32);
      const from = int(b.length);
      return { bytes: Buffer.concat([b.subarray(0, at), b.subarray(from, from + n), b.subarray(at)]), how: `copied ${n} bytes from ${from} to ${at}` };
    }
  }
}

function check(e: unknown, label: string): void {
  if (!(e instanceof RdbError)) throw new Error(`${label}: threw ${String(e)} instead of an RdbError`, { cause: e });
  if (e.code === 'internal') throw new Error(`${label}: parser bug: ${e.message}`, { cause: e });
  if (!/at offset \d+: ./.test(e.message)) throw new Error(`${label}: message without offset and reason: ${e.message}`);
}

/** Small payloads from old and new servers: every value type byte the fixtures have. */
function corpus(): Array<{ label: string; payload: Buffer }> {
  const out: Array<{ label: string; payload: Buffer }> = [];
  for (const version of ['2.6.17', '3.2.13', '5.0.14', '7.0.15', '7.2.6', '7.4.1']) {
    for (const r of loadRecords(version)) if (r.dump && r.dump.length <= 3000) out.push({ label: `${version} ${r.label}`, payload: r.dump });
  }
  return out;
}

describe(`mutation fuzz (seed ${SEED}; RDB_FUZZ_SEED=${SEED} replays it)`, () => {
  it(`${DUMP_CASES} mutated DUMP payloads`, () => {
    const rand = prng(SEED);
    const inputs = corpus();
    let worst = 0;
    let accepted = 0;
    for (let i = 0; i < DUMP_CASES; i++) {
      const src = inputs[Math.floor(rand() * inputs.length)];
      // Mutate the value and give it a valid footer (most cases), so the value decoders see the damage.
      const body = src.payload.subarray(0, src.payload.length - 10);
      const { bytes, how } = mutate(rand() < 0.9 ? body : src.payload, rand);
      const payload = bytes.length === src.payload.length - 10 || rand() < 0.9 ? dumpPayload(bytes, src.payload.readUInt16LE(src.payload.length - 10), crc64) : bytes;
      const label = `seed ${SEED} case ${i} (${src.label}: ${how}; payload ${payload.toString('hex').slice(0, 400)})`;
      const t = performance.now();
      try {
        parseDumpPayload(payload);
        accepted++;
      } catch (e) {
        check(e, label);
      }
      const ms = performance.now() - t;
      if (ms > worst) worst = ms;
      if (ms > MAX_MS) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
    }
    console.log(`DUMP fuzz: ${DUMP_CASES} cases, ${accepted} still parsed, slowest ${worst.toFixed(1)} ms`);
    expect(worst).toBeLessThan(MAX_MS);
  });

  it(`${FILE_CASES} mutated RDB files, streamed`, async () => {
    const rand = prng(SEED ^ 0x9e3779b9);
    const { base } = corruptFiles();
    let worst = 0;
    let accepted = 0;
    for (let i = 0; i < FILE_CASES; i++) {
      const { bytes, how } = mutate(base, rand);
      const chunk = rand() < 0.5 ? bytes.length || 1 : 1 + Math.floor(rand() * 64);
      const opts = { chunkBytes: rand() < 0.3 ? 64 : undefined, verifyChecksum: rand() < 0.5 };
      const label = `seed ${SEED} file case ${i} (${how}; chunks of ${chunk}, ${JSON.stringify(opts)}; file ${bytes.toString('hex')})`;
      const t = performance.now();
      try {
        for await (const item of readRdb(chunks(bytes, chunk), opts)) void item;
        accepted++;
      } catch (e) {
        check(e, label);
      }
      const ms = performance.now() - t;
      if (ms > worst) worst = ms;
      if (ms > MAX_MS) throw new Error(`${label}: took ${ms.toFixed(0)} ms`);
    }
    console.log(`RDB file fuzz: ${FILE_CASES} cases, ${accepted} still parsed, slowest ${worst.toFixed(1)} ms`);
    expect(worst).toBeLessThan(MAX_MS);
  });
});

async function* chunks(b: Buffer, n: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < b.length; i += n) yield b.subarray(i, i + n);
}
