import { formatBytes, formatCount, formatDuration, formatTimestamp } from '../../../shared/format.js';
import { actions, useFerry } from '../appState.js';
import { BigKeys, Capacity, Charts, Collisions, EndpointsTable, PrefixTrees, SourcesTable, Verdicts } from '../components/plan/PlanParts.js';
import { PlanProgress } from '../components/plan/PlanProgress.js';
import { downloadText, safeFileName } from '../util/download.js';
import { planCounts, planToHtml } from '../util/planReport.js';
import type { PlanDocument } from '../../../shared/plan.js';

function Exports({ doc }: { doc: PlanDocument }) {
  const base = `ferry-plan-${safeFileName(doc.job)}`;
  return (
    <>
      <button type="button" data-testid="plan-export-json" onClick={() => downloadText(`${base}.json`, JSON.stringify(doc, null, 2), 'application/json')}>
        Export JSON
      </button>
      <button type="button" data-testid="plan-export-html" onClick={() => downloadText(`${base}.html`, planToHtml(doc), 'text/html')}>
        Export HTML
      </button>
    </>
  );
}

function PlanDocumentView({ doc }: { doc: PlanDocument }) {
  const c = planCounts(doc);
  return (
    <div data-testid="plan-document">
      <div className="panel">
        <div className="row">
          <h2 className="grow">
            Plan of {doc.job}{' '}
            <span className="muted" style={{ fontWeight: 400 }}>
              {formatTimestamp(doc.createdAt)} · {doc.sample === null ? 'every selected key' : `sample of ${formatCount(doc.sample)} per db`} · took {formatDuration(doc.elapsedMs)}
            </span>
          </h2>
          <Exports doc={doc} />
        </div>
        <p className="kv">
          <span>
            <b>{formatCount(doc.totals.keys)}</b> keys
          </span>
          <span>
            <b>{formatBytes(doc.totals.bytes)}</b>
          </span>
          <span>estimated {formatDuration(doc.totals.estimatedMs)}</span>
          <span className={c.blocker > 0 ? 'error' : 'okText'}>
            {c.blocker} blocker{c.blocker === 1 ? '' : 's'}
          </span>
          <span className={c.warn > 0 ? 'warnText' : 'muted'}>
            {c.warn} warning{c.warn === 1 ? '' : 's'}
          </span>
        </p>
        <Verdicts doc={doc} />
      </div>
      <div className="panel">
        <h3>Endpoints</h3>
        <EndpointsTable doc={doc} />
        <h3>Sources</h3>
        <SourcesTable doc={doc} />
      </div>
      <div className="panel">
        <Charts doc={doc} />
      </div>
      <div className="panel">
        <h3>Big keys ({formatCount(doc.bigKeys.length)})</h3>
        <BigKeys doc={doc} />
      </div>
      <div className="cols-2">
        <div className="panel">
          <h3>Key prefixes</h3>
          <PrefixTrees doc={doc} />
        </div>
        <div className="panel">
          <h3>Collisions</h3>
          <Collisions doc={doc} />
          <h3>Capacity</h3>
          <Capacity doc={doc} />
        </div>
      </div>
    </div>
  );
}

export function PlanScreen() {
  const status = useFerry((s) => s.plan.status);
  const doc = useFerry((s) => s.plan.document);
  const error = useFerry((s) => s.plan.error);
  const broken = useFerry((s) => s.job.syntaxError !== null);
  const stale = useFerry((s) => s.plan.yaml !== null && s.plan.yaml !== s.job.yaml);
  return (
    <section aria-label="Plan">
      <div className="toolbar">
        <button type="button" className="primary" data-testid="plan-start" disabled={status === 'running' || broken} onClick={() => void actions.runPlan()}>
          {status === 'running' ? 'Planning…' : doc ? 'Run the plan again' : 'Run plan'}
        </button>
        <span className="muted">The dry run: reads every endpoint and every selected key, writes nothing.</span>
        <span data-testid="plan-status" data-status={status} className={`badge st-${status === 'running' ? 'running' : status === 'failed' ? 'failed' : status === 'done' ? 'done' : 'idle'}`}>
          {status}
        </span>
      </div>
      {stale && status !== 'running' && (
        <p className="warnText" data-testid="plan-stale">
          The job has changed since this plan was made: run it again to see the plan of the job as it is.
        </p>
      )}
      {error && (
        <p className="error" data-testid="plan-error">
          {error}
        </p>
      )}
      {status === 'running' && <PlanProgress />}
      {doc && <PlanDocumentView doc={doc} />}
    </section>
  );
}
