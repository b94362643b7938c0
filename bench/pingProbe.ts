/**
 * An independent latency probe, run as its own process (so neither Ferry's nor the bench's event
 * loop colours it): PINGs one Redis server every millisecond, one at a time, and answers `stats`
 * messages with the max and p99 round trip since the previous `stats` message.
 *
 *   child_process.fork('bench/pingProbe.ts', [port], { execArgv: ['--import', 'tsx'] })
 */
import net from 'node:net';

const port = Number(process.argv[2]);
let samples: number[] = [];
const socket = net.connect({ host: '127.0.0.1', port }, () => socket.setNoDelay(true));
let sentAt = 0;
let buffered = '';

function ping(): void {
  sentAt = performance.now();
  socket.write('PING\r\n');
}

socket.on('data', (chunk) => {
  buffered += chunk.toString('latin1');
  while (buffered.includes('\r\n')) {
    buffered = buffered.slice(buffered.indexOf('\r\n') + 2);
    samples.push(performance.now() - sentAt);
    setTimeout(ping, 1);
  }
});
socket.once('connect', ping);

process.on('message', (msg) => {
  if (msg !== 'stats') return;
  const sorted = samples.sort((a, b) => a - b);
  samples = [];
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  process.send!({ calls: sorted.length, maxMs: sorted[sorted.length - 1] ?? 0, p99Ms: at(0.99) });
});
process.on('disconnect', () => process.exit(0));
