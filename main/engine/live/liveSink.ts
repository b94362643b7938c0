import type { Job } from '../../../shared/job.js';
import type { Endpoint } from '../endpoints/endpoint.js';
import type { KeyFilter } from '../filters/keyFilter.js';
import { transcodeDumpPayload } from '../rdb/encode/index.js';
import { CommandTranslator, translatorOptionsFor, type TranslationNote } from './commandTranslator.js';
import { LiveApplier } from './liveApplier.js';
import type { CommandSink } from './liveNode.js';

export interface LiveSinkOptions {
  source: string;
  node: string;
  /** The source endpoint (its clock offset turns relative expiries into the target's absolute ones). */
  sourceEndpoint: Endpoint;
  target: Endpoint;
  job: Job;
  filter: KeyFilter;
  onWarning(message: string): void;
}

/** Notes of one kind listed one by one; past this they are only counted. */
const NOTES_LISTED = 20;

/**
 * One node's command stream into the target: the translator (db mapping, filters, absolute
 * expiries, cluster splits) and the applier (in order, pipelined, the applied offset).
 */
export function createLiveSink(o: LiveSinkOptions): CommandSink {
  const { target, sourceEndpoint } = o;
  const targetRdb = target.facts.rdbVersion;
  const translator = new CommandTranslator(
    translatorOptionsFor(o.job, o.filter, target, {
      // Redis 7 propagates absolute times in the source's clock; the target's may differ.
      clockShiftMs: target.clockOffsetMs - sourceEndpoint.clockOffsetMs,
      adaptPayload: (payload) => {
        const out = transcodeDumpPayload(payload, targetRdb);
        return out.ok ? out.payload : null;
      },
    }),
  );
  const listed = new Map<string, number>();
  const applier = new LiveApplier({
    target,
    onCommandError: (f) => note(`refused:${f.command} ${f.code}`, `the target refused ${f.command}${f.key === null ? '' : ` on ${f.key}`} (db ${f.db}): ${f.message}`),
  });
  const note = (kind: string, message: string) => {
    const n = (listed.get(kind) ?? 0) + 1;
    listed.set(kind, n);
    if (n <= NOTES_LISTED) o.onWarning(`${o.node}: ${message}${n === NOTES_LISTED ? ' (more like this are counted, not listed)' : ''}`);
  };
  const noteOf = (n: TranslationNote) => {
    if (n.level === 'warning') note(`${n.kind}:${n.command}`, n.message);
  };
  return {
    async push(argv, offset, readAtMs) {
      const t = translator.translate(argv, readAtMs + sourceEndpoint.clockOffsetMs);
      t.notes.forEach(noteOf);
      await applier.push(offset, t);
    },
    get appliedOffset() {
      return applier.appliedOffset;
    },
    resetTo(offset) {
      translator.reset();
      applier.resetTo(offset);
    },
    drain: () => applier.drain(),
    get counts() {
      const d = translator.stats.dropped;
      return { applied: applier.stats.commands, dropped: d.filtered + d.unmappedDb + d.ttl + d.pubsub + d.protocol + d.refused, errors: applier.stats.errors };
    },
    get fatal() {
      return applier.fatal;
    },
    uncertainKeys: () => applier.uncertainKeys(),
  };
}
