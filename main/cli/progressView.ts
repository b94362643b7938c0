import type { EngineEvent, EngineEventOf, LatencySummary } from '../../shared/events.js';
import { formatBytes, formatCount, formatDuration } from './format.js';


/**
 * Draws engine events for a person. On a TTY: one live progress bar per source, redrawn in place.
 * Otherwise: a line per stage change and a progress line per source every few seconds.
 */
export class ProgressView {
  private readonly latest = new Map<string, EngineEventOf<'progress'>>();
  private readonly verifying = new Map<string, EngineEventOf<'verify-progress'>>();
  private readonly stages = new Map<string, string>();
  /** Staging replicas still syncing, by `source node`. */
  private readonly staging = new Map<string, EngineEventOf<'staging'>>();
  /** Live sync, by `source node`: the latest event of each. */
  private readonly live = new Map<string, EngineEventOf<'live'>>();
  private drawnLines = 0;
  private lastPlainLine = 0;
  private lastDraw = 0;

  constructor(
    private readonly out: NodeJS.WriteStream,
    private readonly tty = Boolean(out.isTTY),
    /** Print `latency` events (ferry run --latency); the run's latency summary is printed regardless. */
    private readonly latencyLines = false,
  ) {}

  handle(event: EngineEvent): void {
    switch (event.type) {
      case 'run-started':
        this.line(`${event.resumed ? 'Resuming' : 'Running'} job ${event.job}: ${event.sources.length} source(s) -> ${event.target}`);
        break;
      case 'source-stage':
        this.stages.set(event.source, event.stage);
        if (!this.tty) {
          if (event.stage !== 'queued') this.line(`${event.source}: ${event.stage}${event.message ? ` (${event.message})` : ''}`);
        }
        else this.draw(true);
        break;
      case 'progress':
        this.latest.set(event.source, event);
        if (this.tty) this.draw(false);
        else if (Date.now() - this.lastPlainLine > 5000) {
          this.lastPlainLine = Date.now();
          for (const p of this.latest.values()) this.line(describeProgress(p));
        }
        break;
      case 'key-error':
        this.line(`error: ${event.source} db ${event.db} key 0x${event.keyHex.slice(0, 80)}: ${event.message}`);
        break;
      case 'warning':
        this.line(`warning: ${event.source ? `${event.source}: ` : ''}${event.message}`);
        break;
      case 'run-finished':
        if (this.tty) this.draw(true);
        for (const summary of event.latency ?? []) this.line(describeLatencySummary(summary));
        break;
      case 'latency':
        if (this.latencyLines) this.line(describeLatency(event));
        break;
      case 'verify-progress':
        this.verifying.set(event.source, event);
        if (this.tty) this.draw(false);
        else if (Date.now() - this.lastPlainLine > 5000) {
          this.lastPlainLine = Date.now();
          for (const p of this.verifying.values()) this.line(describeVerify(p));
        }
        break;
      case 'verify-finished':
        if (this.tty) this.draw(true);
        break;
      case 'tunnel':
        // Connection attempts while down are noise; the down line already says why.
        if (event.state === 'up') this.line(`tunnel ${event.tunnel}: up${event.attempt > 0 ? ` again (attempt ${event.attempt})` : ''}`);
        else if (event.state === 'down') this.line(`tunnel ${event.tunnel}: down: ${event.message ?? 'connection lost'}`);
        break;
      case 'staging':
        this.handleStaging(event);
        break;
      case 'live':
        this.handleLive(event);
        break;
      default:
        break;
    }
  }

  private handleStaging(event: EngineEventOf<'staging'>): void {
    const key = `${event.source} ${event.node}`;
    const syncing = event.state === 'starting' || event.state === 'syncing' || event.state === 'loading';
    if (syncing) this.staging.set(key, event);
    else this.staging.delete(key);
    if (!syncing && event.state !== 'stopped') {
      this.line(`staging ${event.source} ${event.node}: ${event.state === 'detached' ? 'detached: a frozen copy to read from' : event.state}${event.message ? ` (${event.message})` : ''}`);
    } else if (event.state === 'starting') {
      this.line(`staging ${event.source} ${event.node}: starting a local replica`);
    } else if (this.tty) this.draw(false);
    else if (syncing && Date.now() - this.lastPlainLine > 5000) {
      this.lastPlainLine = Date.now();
      this.line(describeStaging(event));
    }
  }

  private handleLive(event: EngineEventOf<'live'>): void {
    const key = `${event.source} ${event.node}`;
    const before = this.live.get(key);
    this.live.set(key, event);
    // Phase changes and messages are news; the lag itself is redrawn (TTY) or printed every 5 s.
    if (before?.phase !== event.phase || (event.message && event.message !== before?.message)) this.line(describeLive(event));
    else if (this.tty) this.draw(false);
    else if (Date.now() - this.lastPlainLine > 5000) {
      this.lastPlainLine = Date.now();
      for (const l of this.live.values()) this.line(describeLive(l));
    }
  }

  /** Leaves the bars where they are, so what follows prints below them. */
  finish(): void {
    if (this.tty && (this.latest.size || this.verifying.size)) this.draw(true);
    this.drawnLines = 0;
  }

  private line(text: string): void {
    this.clear();
    this.out.write(`${text}\n`);
    if (this.tty) this.draw(true);
  }

  private clear(): void {
    if (!this.tty || this.drawnLines === 0) return;
    this.out.write(`\x1b[${this.drawnLines}A\x1b[0J`);
    this.drawnLines = 0;
  }

  private draw(force: boolean): void {
    if (!force && Date.now() - this.lastDraw < 100) return;
    this.lastDraw = Date.now();
    this.clear();
    const rows = [...this.staging.values()].map(describeStaging);
    rows.push(...[...this.latest.values()].map((p) => bar(p, this.stages.get(p.source))));
    rows.push(...[...this.verifying.values()].map(verifyBar));
    rows.push(...[...this.live.values()].filter((l) => l.phase === 'streaming').map(describeLive));
    if (rows.length) this.out.write(`${rows.join('\n')}\n`);
    this.drawnLines = rows.length;
  }
}

/** `idc-01 10.0.0.11:6379: streaming, lag 0 B / 0 ms, 12,345 commands applied (3 dropped, 0 errors)`. */
export function describeLive(e: EngineEventOf<'live'>): string {
  const resync = e.resync === 'partial' ? ' (partial resync)' : e.resync === 'full' && e.phase !== 'connecting' ? ' (full sync)' : '';
  const lag = `lag ${formatBytes(e.lagBytes)} / ${formatDuration(e.lagMs)}`;
  const counts = `${formatCount(e.applied)} commands applied (${formatCount(e.dropped)} dropped, ${formatCount(e.errors)} errors)`;
  return `${e.source} ${e.node}: ${e.phase}${resync}, ${lag}, ${counts}${e.message ? `: ${e.message}` : ''}`;
}

function meter(source: string, done: number, total: number): string {
  const width = 24;
  const fraction = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(fraction * width);
  return `${source.padEnd(14)} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}%  ${formatCount(done)}/${formatCount(total)} keys`;
}

function bar(p: EngineEventOf<'progress'>, stage: string | undefined): string {
  const eta = stage === 'done' ? 'done' : stage === 'failed' || stage === 'stopped' ? stage : `ETA ${formatDuration(p.etaMs)}`;
  return `${meter(p.source, p.counts.scanned, p.total)}  ${formatCount(p.keysPerSec)} keys/s  ${formatBytes(p.bytesPerSec)}/s  ${eta}`;
}

function verifyBar(p: EngineEventOf<'verify-progress'>): string {
  return `${meter(p.source, p.compared, p.total)} verified, ${formatCount(p.differences)} differ`;
}

function describeVerify(p: EngineEventOf<'verify-progress'>): string {
  return `verifying ${p.source}: ${formatCount(p.compared)}/${formatCount(p.total)} keys, ${formatCount(p.differences)} differ`;
}

function describeStaging(e: EngineEventOf<'staging'>): string {
  const of = e.totalBytes ? ` of ${formatBytes(e.totalBytes)} (${((100 * e.receivedBytes) / e.totalBytes).toFixed(0)}%)` : '';
  const what = e.state === 'loading' ? 'loading' : e.state === 'starting' ? 'starting' : `${formatBytes(e.receivedBytes)}${of} received`;
  return `staging ${e.source} ${e.node}: ${what}${e.message && e.state !== 'starting' ? ` (${e.message})` : ''}`;
}

function describeProgress(p: EngineEventOf<'progress'>): string {
  const pct = p.total > 0 ? Math.min(100, (100 * p.counts.scanned) / p.total) : 0;
  return `${p.source}: ${formatCount(p.counts.scanned)}/${formatCount(p.total)} keys (${pct.toFixed(0)}%), ${formatCount(p.keysPerSec)} keys/s, ETA ${formatDuration(p.etaMs)}`;
}

/** `latency target 127.0.0.1:7000: 212 calls, avg 0.3 ms, p50 0.2, p99 1.1, max 2.4 ms, pace 1.00` */
export function describeLatency(e: EngineEventOf<'latency'>): string {
  const server = e.serverMaxMs !== null && e.serverMaxMs > 0 ? `, server max ${ms(e.serverMaxMs)} ms` : '';
  return `latency ${e.endpoint} ${e.node}: ${e.calls} calls, avg ${ms(e.avgMs)} ms, p50 ${ms(e.p50Ms)}, p99 ${ms(e.p99Ms)}, max ${ms(e.maxMs)} ms, pace ${e.paceFactor.toFixed(2)}${server}`;
}

/** `latency target 127.0.0.1:7000: worst p99 1.1 ms, max 8.2 ms, 0 s over the 2 ms budget` */
export function describeLatencySummary(l: LatencySummary): string {
  const where = l.nodes.length === 1 ? l.nodes[0] : `${l.nodes.length} nodes`;
  const server = l.serverMaxMs !== null ? `, server max ${ms(l.serverMaxMs)} ms` : '';
  return `latency ${l.endpoint} ${where}: worst p99 ${ms(l.worstP99Ms)} ms, max ${ms(l.maxMs)} ms, ${l.secondsOverBudget} s over the ${l.budgetMs} ms budget${server}`;
}

function ms(value: number): string {
  return value.toFixed(1);
}
