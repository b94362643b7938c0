import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keySpecsFromCommandReply, WRITE_COMMANDS } from '../../main/engine/live/commandTable.js';
import type { RedisConnection } from '../../main/engine/resp/connection.js';
import { connectTo } from '../support/dataset.js';
import { startRedis, type RedisServer } from '../support/redisServers.js';

let server: RedisServer;
let conn: RedisConnection;

beforeAll(async () => {
  server = await startRedis();
  conn = await connectTo(server.port);
});
afterAll(async () => {
  conn.close();
  await server.stop();
});

/** Container commands: the table holds the key position of their key-bearing subcommand. */
const SUBCOMMAND: Record<string, string> = { xgroup: 'xgroup|create' };

describe('the live command table', () => {
  it("matches the server's own key positions (first, last, step) for every command it knows", async () => {
    const names = [...WRITE_COMMANDS.keys()];
    const reply = await conn.call('COMMAND', 'INFO', ...names.map((n) => SUBCOMMAND[n] ?? n));
    const server7 = keySpecsFromCommandReply((reply as unknown[]).filter(Boolean));
    let checked = 0;
    for (const name of names) {
      const theirs = server7.get(SUBCOMMAND[name] ?? name);
      if (!theirs) continue; // newer than this server (HEXPIRE 7.4, HSETEX 8.0…)
      const ours = WRITE_COMMANDS.get(name)!;
      expect({ name, first: ours.first, last: ours.last, step: ours.step }).toEqual({ name, first: theirs.first, last: theirs.last, step: theirs.step });
      if (theirs.movable) expect(ours.movable, `${name} has movable keys`).toBe(true);
      checked++;
    }
    console.log(`command table: ${checked} of ${names.length} commands checked against redis-server`);
    expect(checked).toBeGreaterThan(100);
  });
});
