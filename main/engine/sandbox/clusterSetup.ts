import { RedisConnection } from '../resp/connection.js';
import { replyText } from '../resp/reply.js';
import { SLOTS } from '../keys/hashSlot.js';

/**
 * Makes a cluster of fresh cluster-enabled nodes: splits the slots evenly, introduces the nodes
 * to each other (CLUSTER MEET) and waits until every node reports cluster_state:ok.
 */
export async function createCluster(ports: number[]): Promise<void> {
  const conns = await Promise.all(ports.map((port) => RedisConnection.connect({ host: '127.0.0.1', port, label: `cluster node :${port}` })));
  try {
    const per = Math.ceil(SLOTS / ports.length);
    await Promise.all(
      conns.map((conn, i) => {
        const slots: number[] = [];
        for (let s = i * per; s < Math.min(SLOTS, (i + 1) * per); s++) slots.push(s);
        return conn.call('CLUSTER', 'ADDSLOTS', ...slots);
      }),
    );
    // A different config epoch per node avoids a round of epoch collision handling.
    await Promise.all(conns.map((conn, i) => conn.call('CLUSTER', 'SET-CONFIG-EPOCH', i + 1).catch(() => undefined)));
    for (const port of ports.slice(1)) await conns[0].call('CLUSTER', 'MEET', '127.0.0.1', port);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const infos = await Promise.all(conns.map((conn) => conn.call('CLUSTER', 'INFO')));
      const ready = (text: string) =>
        text.includes('cluster_state:ok') && text.includes(`cluster_known_nodes:${ports.length}`) && text.includes(`cluster_slots_assigned:${SLOTS}`);
      if (infos.every((info) => ready(replyText(info)))) return;
      if (Date.now() > deadline) throw new Error('the sandbox cluster did not reach cluster_state:ok within 30 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } finally {
    conns.forEach((c) => c.close());
  }
}
